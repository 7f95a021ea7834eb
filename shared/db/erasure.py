"""Erasure that leaves no copy in the database's own files.

PostgreSQL's dump and its tables show only live rows. SQLite (the embedded mode) keeps
deleted rows in free pages and old page versions in its write-ahead log, readable with
``grep``. Its connections run with ``secure_delete`` (deleted content is overwritten with
zeros), and a transaction that erased personal data says so with :func:`mark_erased`:
after its commit the log is checkpointed into the database file and truncated.
"""

from __future__ import annotations

from typing import Final

import structlog
from sqlalchemy import Engine
from sqlalchemy.orm import Session

log = structlog.get_logger(__name__)

_ERASED: Final = "werving.erased_personal_data"


def mark_erased(session: Session) -> None:
    """This transaction erases personal data: leave no copy once it commits."""
    session.info[_ERASED] = True


def take_erased_mark(session: Session) -> bool:
    """Whether the transaction was marked, clearing the mark (a session may be reused)."""
    return bool(session.info.pop(_ERASED, False))


def truncate_sqlite_log(engine: Engine) -> None:
    """Copy SQLite's write-ahead log into the database file and truncate it to nothing.

    It waits (the busy timeout) for readers of older snapshots; when some still hold
    one the log is not truncated this time, and the next erasure tries again.
    """
    # Outside any transaction (a checkpoint inside one finds the tables locked): the
    # driver's connection, which this module's pragmas leave in autocommit.
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        row = cursor.fetchone()
        cursor.close()
    finally:
        connection.close()
    if row is None or row[0]:  # (busy, log frames, frames checkpointed)
        log.warning("sqlite.log_not_truncated", reason="readers of an older snapshot")
