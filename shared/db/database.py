"""Engine and transaction scope; nothing connects until first use."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from shared.db.erasure import take_erased_mark, truncate_sqlite_log
from shared.db.types import dump_json
from shared.settings import Settings

# libpq's connection options for every werving connection: a connection attempt gives up
# after 10 s, and TCP keepalives (and a timeout for data the server never acknowledges) end
# a connection whose server vanished without closing it (a half-open connection) within a
# minute, so the code waiting on it gets an error to recover from instead of hanging.
LIBPQ_OPTIONS: Final[dict[str, int]] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}


def libpq_options(application_name: str | None) -> dict[str, int | str]:
    """The options a werving process connects to PostgreSQL with; ``application_name``
    names the process in ``pg_stat_activity`` (``werving-relay``, ...)."""
    options: dict[str, int | str] = dict(LIBPQ_OPTIONS)
    if application_name is not None:
        options["application_name"] = application_name
    return options


def make_engine(
    url: str, *, pool_size: int = 5, pre_ping: bool = True, application_name: str | None = None
) -> Engine:
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
        connect_args=libpq_options(application_name),
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy own transactions, so that BEGIN IMMEDIATE below takes effect.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # Deleted rows are overwritten, not left in free pages (see shared.db.erasure).
    cursor.execute("PRAGMA secure_delete=ON")
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
        application_name: str | None = None,
    ) -> None:
        """``pre_ping`` tests each connection with a round trip before use. Workers turn
        it off: a connection lost meanwhile fails that one transaction, SQLAlchemy
        then replaces the pool's connections, and the message is retried.

        ``session_per_thread`` has each thread run its transactions on one ``Session``
        it keeps, emptied after each: for a worker's threads, which run one short
        transaction after another, building a session costs more than the statements.
        Without ``pre_ping`` (a check made when a connection leaves the pool) the thread
        also keeps the connection the session is bound to, for as long as it lives, if
        the pool had one to spare at its first transaction: checking a connection out
        of the pool and back in costs about as much again.

        ``application_name`` names the process's connections in ``pg_stat_activity``."""
        self.engine = make_engine(
            url, pool_size=pool_size, pre_ping=pre_ping, application_name=application_name
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._kept = threading.local() if session_per_thread else None
        self._hold_connections = session_per_thread and not pre_ping
        self._holding = threading.Lock()
        self._held: weakref.WeakSet[_HeldConnection] = weakref.WeakSet()

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
            erased = take_erased_mark(session)
        finally:
            take_erased_mark(session)
            # A kept one carries no objects over; its connection goes back to the pool,
            # unless the thread holds it.
            session.close()
        if erased and not self.is_postgresql:
            truncate_sqlite_log(self.engine)

    def _kept_session(self) -> Session | None:
        """This thread's kept session, unless sessions are not kept or it is in use (a
        transaction inside another gets a session of its own, as without keeping)."""
        if self._kept is None:
            return None
        session: Session | None = getattr(self._kept, "session", None)
        if session is None:
            held = self._held_connection()
            bound = {} if held is None else {"bind": held.connection}
            # Used outside a transaction block, it raises rather than begin a transaction
            # that nothing would end.
            session = self._kept.session = self._sessions(autobegin=False, **bound)
        return None if session.in_transaction() else session

    def _held_connection(self) -> _HeldConnection | None:
        """A connection for this thread to keep, if it may and the pool has one to spare
        (a thread beyond that checks one out for each transaction)."""
        pool = self.engine.pool
        if self._kept is None or not self._hold_connections or not isinstance(pool, QueuePool):
            return None
        with self._holding:
            if pool.checkedout() >= pool.size():
                return None
            held = _HeldConnection(self.engine.connect())
        self._kept.held = held  # dropped, and the connection checked in, when the thread ends
        self._held.add(held)
        return held

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
        """Close the connections, those the threads keep too: once no transaction runs."""
        for held in list(self._held):
            held.connection.close()
        self.engine.dispose()


class _HeldConnection:
    """A thread's kept connection, checked back in to the pool when the thread is gone
    (CPython drops a thread's ``threading.local`` values when it ends)."""

    __slots__ = ("__weakref__", "connection")

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def __del__(self) -> None:
        # A finalizer: at interpreter exit the pool may be gone already, and an error
        # here could only be printed.
        with suppress(Exception):
            self.connection.close()


def worker_database(settings: Settings, *, name: str, pre_ping: bool = True) -> Database:
    """A worker process's database. Each thread keeps its session between messages, and
    one connection for each message; without ``pre_ping`` it keeps that connection
    between messages too. Up to ``worker_db_pool_size`` connections stay open, kept or
    in the pool; a thread beyond that opens and closes one for every message. ``name`` is
    the worker's (``status_worker``), for ``pg_stat_activity``."""
    return Database(
        settings.database_url,
        pool_size=settings.worker_db_pool_size,
        pre_ping=pre_ping,
        session_per_thread=True,
        application_name=f"werving-{name}",
    )
