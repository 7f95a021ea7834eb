"""A WeasyPrint URL fetcher for untrusted HTML: ``data:`` and ``asset:`` URLs, nothing else.

No file, no network, no redirect: every other URL is refused, recorded on the fetcher
and logged as ``pdf.fetch_refused`` (scheme and a shortened URL, never document text);
both stop after a bound, the count does not.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

import structlog
from weasyprint.urls import URLFetcher, URLFetcherResponse

log = structlog.get_logger(__name__)

MAX_DATA_URL_BYTES = 2 * 1024 * 1024
# A document with a million refused URLs must not flood the logs or the reply.
MAX_RECORDED_REFUSALS = 1_000
MAX_LOGGED_REFUSALS = 50
ASSET_SCHEME = "asset"

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9.+-]*):")
_LOGGED_URL_CHARS = 120
_RECORDED_URL_CHARS = 2_000


@dataclass(frozen=True)
class Asset:
    """One of the organisation's stored files (logo, font, stylesheet)."""

    content_type: str
    data: bytes


class FetchRefusedError(ValueError):
    """The URL is not one a document may load; WeasyPrint skips the resource."""


class LockedFetcher(URLFetcher):  # type: ignore[misc]  # weasyprint has no type hints
    """Serves ``data:`` URLs up to ``max_data_bytes`` and ``asset:<name>`` from ``assets``."""

    def __init__(
        self, assets: Mapping[str, Asset], *, max_data_bytes: int = MAX_DATA_URL_BYTES
    ) -> None:
        super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=False)
        # urllib's handlers (http, ftp, file, data) are never used: drop them, so
        # that even a stray call into the base opener cannot reach a file or a socket.
        self.handlers: list[Any] = []
        self.handle_open: dict[str, Any] = {}
        self.handle_error: dict[str, Any] = {}
        self.process_request: dict[str, Any] = {}
        self.process_response: dict[str, Any] = {}
        self.assets = dict(assets)
        self.max_data_bytes = max_data_bytes
        self.refused: list[str] = []
        self.refusals = 0

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        match = _SCHEME.match(url)
        scheme = match[1].lower() if match else ""
        if scheme == "data":
            return self._data(url)
        if scheme == ASSET_SCHEME:
            return self._asset(url)
        raise self.refuse(url, "scheme not allowed")

    def open(self, url: Any, data: object = None, timeout: object = None) -> URLFetcherResponse:
        return self.fetch(url if isinstance(url, str) else url.full_url)

    def __call__(self, url: str) -> URLFetcherResponse:
        return self.fetch(url)

    def refuse(self, url: str, reason: str) -> FetchRefusedError:
        """Record and log a refused URL; returns the exception to raise."""
        self.refusals += 1
        if self.refusals <= MAX_RECORDED_REFUSALS:
            self.refused.append(shorten_url(url, _RECORDED_URL_CHARS))
        if self.refusals <= MAX_LOGGED_REFUSALS:
            match = _SCHEME.match(url)
            log.warning(
                "pdf.fetch_refused",
                scheme=match[1].lower() if match else None,
                url=shorten_url(url, _LOGGED_URL_CHARS),
                reason=reason,
            )
        return FetchRefusedError(f"{reason}: {shorten_url(url, _LOGGED_URL_CHARS)}")

    def _data(self, url: str) -> URLFetcherResponse:
        header, comma, payload = url[len("data:") :].partition(",")
        if not comma:
            raise self.refuse(url, "malformed data URL")
        is_base64 = header.lower().endswith(";base64")
        # Refuse on the encoded size first: never decode a payload that is surely too big.
        encoded_limit = (self.max_data_bytes + 2) // 3 * 4 if is_base64 else 3 * self.max_data_bytes
        if len(payload) > encoded_limit:
            raise self.refuse(url, f"data URL over {self.max_data_bytes} bytes")
        try:
            data = (
                base64.b64decode(unquote_to_bytes(payload))
                if is_base64
                else unquote_to_bytes(payload)
            )
        except (binascii.Error, ValueError) as exc:
            raise self.refuse(url, "malformed data URL") from exc
        if len(data) > self.max_data_bytes:
            raise self.refuse(url, f"data URL over {self.max_data_bytes} bytes")
        media_type = (header[: -len(";base64")] if is_base64 else header) or "text/plain"
        return URLFetcherResponse(url, data, {"Content-Type": media_type})

    def _asset(self, url: str) -> URLFetcherResponse:
        name = unquote(url[len(ASSET_SCHEME) + 1 :].split("#", 1)[0].split("?", 1)[0])
        asset = self.assets.get(name)
        if asset is None:
            raise self.refuse(url, "unknown asset")
        return URLFetcherResponse(url, asset.data, {"Content-Type": asset.content_type})


def shorten_url(url: str, limit: int) -> str:
    """``url`` cut to ``limit`` characters; a ``data:`` URL keeps only its media type."""
    if url[:5].lower() == "data:":
        header = url.partition(",")[0]
        return f"{header[:limit]},…({len(url)} chars)"
    return url if len(url) <= limit else f"{url[:limit]}…"
