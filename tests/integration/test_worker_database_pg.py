"""A worker process keeps one PostgreSQL connection and one session per thread between
messages."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from shared.db.database import Database, worker_database
from shared.settings import Settings

pytestmark = pytest.mark.integration

ROUNDS = 3


def _connections_opened(db: Database, threads: int) -> int:
    """Run ``ROUNDS`` rounds of ``threads`` transactions held open together, as a busy
    worker's threads hold theirs; how many connections the pool opened meanwhile."""
    opened = 0
    lock = threading.Lock()

    def count(*_: object) -> None:
        nonlocal opened
        with lock:
            opened += 1

    event.listen(db.engine, "connect", count)
    together = threading.Barrier(threads)
    failures: list[BaseException] = []

    def handle_message() -> None:
        try:
            with db.transaction() as session:
                session.execute(text("SELECT 1"))
                together.wait(timeout=30)
        except BaseException as exc:  # reported below: a thread's exception is lost else
            failures.append(exc)

    for _ in range(ROUNDS):
        workers = [threading.Thread(target=handle_message) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert failures == []
    return opened


def test_a_worker_with_as_many_threads_as_the_default_pool_opens_each_connection_once(
    postgres_url: str,
) -> None:
    settings = Settings(database_url=postgres_url)
    threads = settings.worker_db_pool_size
    db = worker_database(settings, name="test_worker", pre_ping=False)
    try:
        assert _connections_opened(db, threads) == threads
    finally:
        db.dispose()


@pytest.mark.parametrize("pre_ping", [True, False], ids=["checked-out-per-message", "kept"])
def test_a_pool_smaller_than_the_threads_opens_connections_for_every_round(
    postgres_url: str, pre_ping: bool
) -> None:
    # What worker_db_pool_size is for: the threads beyond the pool connect per message,
    # whether or not the others keep theirs between messages.
    settings = Settings(database_url=postgres_url, worker_db_pool_size=2)
    db = worker_database(settings, name="test_worker", pre_ping=pre_ping)
    try:
        assert _connections_opened(db, threads=4) == 2 + 2 * ROUNDS
    finally:
        db.dispose()


@pytest.fixture
def worker_db(postgres_url: str) -> Iterator[Database]:
    db = worker_database(Settings(database_url=postgres_url), name="test_worker", pre_ping=False)
    yield db
    db.dispose()


def _checked_out(db: Database) -> int:
    assert isinstance(db.engine.pool, QueuePool)
    return db.engine.pool.checkedout()


def _backend_pid(session: Session) -> int:
    return int(session.scalar(text("SELECT pg_backend_pid()")))


def test_a_thread_keeps_its_connection_between_transactions(worker_db: Database) -> None:
    with worker_db.transaction() as session:
        first = _backend_pid(session)
    assert _checked_out(worker_db) == 1  # this thread's, not back in the pool
    with worker_db.transaction() as session:
        assert _backend_pid(session) == first
    worker_db.dispose()
    assert _checked_out(worker_db) == 0


def test_a_transaction_inside_another_gets_a_session_and_connection_of_its_own(
    worker_db: Database,
) -> None:
    with worker_db.transaction() as outer:
        outer_pid = _backend_pid(outer)
        with worker_db.transaction() as inner:
            assert inner is not outer
            assert _backend_pid(inner) != outer_pid
    with worker_db.transaction() as after:
        assert after is outer  # the thread's kept session again


def test_a_connection_lost_between_messages_fails_one_transaction_then_the_next_reconnects(
    worker_db: Database, pg: Database
) -> None:
    with worker_db.transaction() as session:
        lost = _backend_pid(session)
    with pg.transaction() as admin:  # as a PostgreSQL restart would
        # Waits (up to 10 s) until that backend has gone.
        admin.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": lost})
    with pytest.raises(DBAPIError) as failed, worker_db.transaction() as session:
        _backend_pid(session)
    assert failed.value.connection_invalidated
    with worker_db.transaction() as session:
        assert _backend_pid(session) != lost
