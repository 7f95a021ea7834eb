"""Time-ordered identifiers (UUIDv7, RFC 9562) for rows that are inserted in bulk."""

from __future__ import annotations

import os
import time
import uuid


def new_id() -> uuid.UUID:
    """Return a UUIDv7: 48 bits of Unix milliseconds, then random bits.

    Index-friendly (new rows land at the end of the b-tree) and still unguessable.
    """
    millis = time.time_ns() // 1_000_000
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return uuid.UUID(int=value)
