"""Telling a database that is away from one that refused a statement, and waiting it out.

PostgreSQL going away shows up in three ways: a connection that cannot be opened (refused,
a server starting or shutting down, a database not accepting connections), one that the
server ended (``pg_terminate_backend``, a restart: SQLSTATE class 08 or 57P01-57P03), and
a pool with no connection to give within its timeout. Each is over once the database is
back, and says nothing about the work that met it: that work is retried, for as long as
the outage lasts. Anything else the database answers (a constraint, a deadlock, a value it
cannot store) is about the statement.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

import psycopg
import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

log = structlog.get_logger(__name__)

T = TypeVar("T")

# SQLSTATEs of a server that is going away or not there yet.
_SERVER_GOING_AWAY: Final = frozenset({"57P01", "57P02", "57P03"})

# The pauses before each try again of ``retried_while_unavailable``: the first at once (a
# connection found lost has been replaced by then), about 15 s in all.
RETRY_PAUSES_S: Final = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
# One more try at once: for a connection a restart left dead, where waiting is not worth it.
ONCE_MORE: Final = (0.0,)


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database could not be reached, or dropped the connection,
    rather than anything about the statement that met it."""
    if isinstance(error, PoolTimeoutError):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        return _unreachable(error.orig)
    return _unreachable(error)


def _unreachable(error: BaseException | None) -> bool:
    if not isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return False
    state = error.sqlstate
    # No SQLSTATE: the client itself found the connection impossible or gone.
    return state is None or state.startswith("08") or state in _SERVER_GOING_AWAY


def retried_while_unavailable(
    action: Callable[[], T], *, what: str, pauses: Sequence[float] = RETRY_PAUSES_S
) -> T:
    """Run ``action`` (one transaction or statement of its own); while it fails because the
    database is unavailable, run it again after each of ``pauses``. Other errors, and the
    last unavailability, are raised."""
    for pause in pauses:
        try:
            return action()
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning("database.write_retried", what=what, error=type(exc).__name__)
        time.sleep(pause)
    return action()
