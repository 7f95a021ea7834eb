"""Signed links in emails: an HMAC over what the link is for, so nothing is stored.

A signed link can be resent as often as needed (the same email twice carries the same
link) and is checked with a constant-time comparison.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from uuid import UUID


def sign(key: bytes, purpose: str, subject: UUID) -> str:
    digest = hmac.new(key, f"{purpose}:{subject}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(key: bytes, purpose: str, subject: UUID, signature: str) -> bool:
    """Whether ``signature`` is the link's; any other text (non-ASCII too) is not."""
    return signature.isascii() and hmac.compare_digest(sign(key, purpose, subject), signature)
