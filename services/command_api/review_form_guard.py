"""The review form's defence against cross-site requests.

The form's token is an HMAC of the review link's token under the server's link secret
(``WERVING_LINK_SECRET``): only a page this server rendered for that link carries it, so
a token (or cookie) that anyone else chose is worth nothing, and no state is kept. A
browser says where a form comes from: when it sends ``Origin``, that must be this
site's, and when it sends ``Sec-Fetch-Site``, that must be ``same-origin`` (or ``none``,
a person's own action).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

_PURPOSE: Final = b"review-form:"
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
ALLOWED_FETCH_SITES: Final = frozenset({"same-origin", "none"})


def form_token(key: bytes, review_token: str) -> str:
    """The token the review page's form carries for this link."""
    return hmac.new(key, _PURPOSE + review_token.encode(), hashlib.sha256).hexdigest()


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` as a browser sends it in ``Origin``."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def refusal(
    *,
    key: bytes,
    review_token: str,
    sent_token: str,
    origin: str | None,
    fetch_site: str | None,
    own_origins: Iterable[str],
) -> str | None:
    """Why the form must not be saved, or None when it may."""
    if origin is not None and origin.lower() not in {origin_of(o) for o in own_origins}:
        return "cross_origin"
    if fetch_site is not None and fetch_site.lower() not in ALLOWED_FETCH_SITES:
        return "cross_site_fetch"
    if not hmac.compare_digest(
        form_token(key, review_token).encode(), sent_token.encode("utf-8", "replace")
    ):
        return "bad_token"
    return None
