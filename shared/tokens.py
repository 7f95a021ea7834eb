"""One-time tokens handed to people (set-password links): minted at random, stored hashed.

The token is 256 random bits, so a fast hash is enough: there is no dictionary to attack,
and the database never holds anything that opens an account.
"""

from __future__ import annotations

import hashlib
import secrets


def mint_token() -> str:
    """A fresh URL-safe token of 32 random bytes (43 characters)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The SHA-256 of the token, in hex: the only form in which it is stored."""
    return hashlib.sha256(token.encode()).hexdigest()
