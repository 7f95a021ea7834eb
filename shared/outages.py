"""A long-running loop's view of a dependency it lost: logged once, retried with backoff.

A loop that cannot reach PostgreSQL, RabbitMQ or an SMTP server does not exit: it waits
and tries again, doubling the pause up to a ceiling. An operator reads one
``dependency.unavailable`` line when the outage starts (with the first error) and one
``dependency.restored`` when it ends (how long it lasted, how many tries failed), not a
line per try.
"""

from __future__ import annotations

import time
from typing import Final

import structlog
from sqlalchemy.exc import DBAPIError

from shared.db.availability import database_unavailable

log = structlog.get_logger(__name__)

FIRST_PAUSE_S: Final = 0.5
LONGEST_PAUSE_S: Final = 10.0
# After a failure that is no outage (a bug, logged with its traceback), a loop tries
# again after this long: soon, but without flooding the log.
UNEXPECTED_FAILURE_PAUSE_S: Final = 5.0


class Outage:
    """One dependency of one loop (``dependency``: ``database``, ``broker``, ...; ``loop``:
    who noticed, such as ``relay``). Not thread-safe: one loop owns it."""

    def __init__(
        self,
        dependency: str,
        *,
        loop: str,
        first_pause_s: float = FIRST_PAUSE_S,
        longest_pause_s: float = LONGEST_PAUSE_S,
    ) -> None:
        self.dependency = dependency
        self.loop = loop
        self._first = first_pause_s
        self._longest = longest_pause_s
        self._pause = first_pause_s
        self._since: float | None = None
        self._failures = 0

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException, *, detail: str | None = None) -> float:
        """Note a failed try; how long to wait before the next (it doubles each time).
        ``detail`` is what the error says, when the caller knows it quotes no data;
        connection errors of the database and the OS are described without it."""
        self._failures += 1
        if self._since is None:
            self._since = time.monotonic()
            said = detail if detail is not None else _detail(error)
            log.warning(
                "dependency.unavailable",
                dependency=self.dependency,
                loop=self.loop,
                error=type(error).__name__,
                detail=None if said is None else said[:300],
            )
        pause = self._pause
        self._pause = min(self._pause * 2, self._longest)
        return pause

    def restored(self) -> None:
        """Note a try that worked: ends the outage (logged once), resets the backoff."""
        if self._since is not None:
            log.info(
                "dependency.restored",
                dependency=self.dependency,
                loop=self.loop,
                down_s=round(time.monotonic() - self._since, 1),
                failed_tries=self._failures,
            )
        self._since = None
        self._failures = 0
        self._pause = self._first


def _detail(error: BaseException) -> str | None:
    """What a connection error says (a host and a port at most; the log's redaction drops
    credentials from URLs). Other errors may quote data: only their type is logged."""
    if isinstance(error, DBAPIError):
        return str(error.orig) if database_unavailable(error) else None
    if isinstance(error, OSError) or database_unavailable(error):
        return str(error)
    return None
