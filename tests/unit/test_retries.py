"""Which failures a worker retries, and for how long: an outage is waited out, not given up on."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from shared.db.availability import database_unavailable
from shared.errors import TransientError, UnavailableError
from shared.messaging.broker import ACTOR_OPTIONS
from shared.messaging.retries import MAX_RETRIES, MAX_RETRIES_WHILE_UNAVAILABLE, retry_when


def _wrapped(error: Exception) -> OperationalError:
    """As SQLAlchemy raises what psycopg raised."""
    return OperationalError("SELECT 1", {}, error)


AWAY = {
    "connection refused": _wrapped(psycopg.OperationalError("connection failed: refused")),
    "terminated (57P01)": _wrapped(psycopg.errors.AdminShutdown("terminating connection")),
    "starting up (57P03)": _wrapped(psycopg.errors.CannotConnectNow("starting up")),
    "connection failure (08006)": _wrapped(psycopg.errors.ConnectionFailure("lost")),
    "no connection free in the pool": PoolTimeoutError("QueuePool limit reached"),
    "an SMTP server refusing connections": UnavailableError("cannot connect"),
}
ABOUT_THE_WORK = {
    "a deadlock": _wrapped(psycopg.errors.DeadlockDetected("deadlock detected")),
    "a unique violation": IntegrityError("INSERT", {}, psycopg.errors.UniqueViolation("dup")),
    "a 451 reply": TransientError("451 try again later"),
    "a bug": ValueError("no"),
}


@pytest.mark.parametrize("error", AWAY.values(), ids=AWAY.keys())
def test_a_dependency_that_is_away_is_retried_for_as_long_as_the_outage_lasts(
    error: Exception,
) -> None:
    assert retry_when(MAX_RETRIES + 100, error)
    assert not retry_when(MAX_RETRIES_WHILE_UNAVAILABLE, error)  # at most about a day


@pytest.mark.parametrize("error", ABOUT_THE_WORK.values(), ids=ABOUT_THE_WORK.keys())
def test_any_other_failure_has_the_usual_eight_retries(error: Exception) -> None:
    assert retry_when(MAX_RETRIES - 1, error)
    assert not retry_when(MAX_RETRIES, error)


def test_only_connection_level_database_errors_count_as_the_database_being_away() -> None:
    assert all(database_unavailable(e) for e in AWAY.values() if not isinstance(e, TransientError))
    assert not any(database_unavailable(e) for e in ABOUT_THE_WORK.values())


def test_every_actor_retries_by_this_rule() -> None:
    assert ACTOR_OPTIONS["retry_when"] is retry_when
