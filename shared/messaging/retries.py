"""When a failed message is tried again.

A message that fails is retried with exponential backoff (from 1 s, capped at
``MAX_BACKOFF_MS``), at most ``MAX_RETRIES`` times; then Dramatiq gives up and it becomes a
dead letter. A failure that only says a dependency is away (the database unreachable or
its connection dropped, an SMTP server refusing connections) is no verdict on the
message: it is retried for as long as the outage lasts, at most
``MAX_RETRIES_WHILE_UNAVAILABLE`` times (about a day at the capped backoff), so that an
outage heals without turning into dead letters someone must replay.
"""

from __future__ import annotations

from typing import Final

from shared.db.availability import database_unavailable
from shared.errors import UnavailableError
from shared.messaging.limits import MAX_BACKOFF_MS

MAX_RETRIES: Final = 8
MIN_BACKOFF_MS: Final = 1_000
# Dramatiq's jitter puts a capped backoff between half the cap and the cap: 288 of them
# last between 12 and 24 hours.
MAX_RETRIES_WHILE_UNAVAILABLE: Final = MAX_RETRIES + (24 * 3600 * 1000) // MAX_BACKOFF_MS


def outage(error: BaseException) -> bool:
    """Whether ``error`` only says a dependency is away."""
    return isinstance(error, UnavailableError) or database_unavailable(error)


def retry_when(retries: int, error: BaseException) -> bool:
    """Dramatiq's ``retry_when``: whether a message that failed ``retries`` times before,
    now with ``error``, is tried again."""
    if retries < MAX_RETRIES:
        return True
    return retries < MAX_RETRIES_WHILE_UNAVAILABLE and outage(error)
