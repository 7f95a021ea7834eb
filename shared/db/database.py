"""Engine and transaction scope; nothing connects until first use."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from shared.db.types import dump_json
from shared.settings import Settings


def make_engine(url: str, *, pool_size: int = 5, pre_ping: bool = True) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=dump_json,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        json_serializer=dump_json,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy own transactions, so that BEGIN IMMEDIATE below takes effect.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # SQLite has no row locks: take the write lock at BEGIN, so that a
    # read-then-write transaction never deadlocks on lock upgrade.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 5,
        pre_ping: bool = True,
        session_per_thread: bool = False,
    ) -> None:
        """``pre_ping`` tests each connection with a round trip before use. Workers turn
        it off: a connection lost meanwhile fails that one transaction, SQLAlchemy
        then replaces the pool's connections, and the message is retried.

        ``session_per_thread`` has each thread run its transactions on one ``Session``
        it keeps, emptied after each: for a worker's threads, which run one short
        transaction after another, building a session costs more than the statements."""
        self.engine = make_engine(url, pool_size=pool_size, pre_ping=pre_ping)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._kept = threading.local() if session_per_thread else None

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits when the block ends, rolls back on an exception."""
        session = self._kept_session() or self._sessions()
        try:
            with session.begin():
                yield session
        finally:
            session.close()  # a kept one carries nothing over: no objects, no connection

    def _kept_session(self) -> Session | None:
        """This thread's kept session, unless sessions are not kept or it is in use (a
        transaction inside another gets a session of its own, as without keeping)."""
        if self._kept is None:
            return None
        session: Session | None = getattr(self._kept, "session", None)
        if session is None:
            # Used outside a transaction block, it raises rather than begin a transaction
            # that would keep a connection checked out.
            session = self._kept.session = self._sessions(autobegin=False)
        return None if session.in_transaction() else session

    @contextmanager
    def single_statement(self) -> Iterator[Connection]:
        """A connection for one statement that is atomic on its own: on PostgreSQL in
        autocommit mode, with no BEGIN and COMMIT round trips around it. (SQLite keeps a
        transaction: its driver's isolation level is this module's to manage.)"""
        if not self.is_postgresql:
            with self.engine.begin() as connection:
                yield connection
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()


def worker_database(settings: Settings, *, pre_ping: bool = True) -> Database:
    """A worker process's database. Each thread keeps its session between messages, and
    holds one connection while it handles a message; the pool keeps up to
    ``worker_db_pool_size`` of them between messages, and a thread beyond that would open
    and close a connection for every message."""
    return Database(
        settings.database_url,
        pool_size=settings.worker_db_pool_size,
        pre_ping=pre_ping,
        session_per_thread=True,
    )
