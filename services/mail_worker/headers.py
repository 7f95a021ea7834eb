"""Moved to :mod:`shared.emails.headers`, which the command API shares; re-exported here so
mail_worker code that still imports it from this module keeps working."""

from __future__ import annotations

from shared.emails.headers import (
    UNSAFE_HEADER_CHARACTERS,
    unsafe_header_character,
)

__all__ = [
    "UNSAFE_HEADER_CHARACTERS",
    "unsafe_header_character",
]
