"""Writes a transaction makes but never reads back, sent together at commit.

History and outbox rows are append-only, and a handler's bulk updates (cancel the
pending mail, complete the command) touch rows it does not load. None of them need
the ORM's unit of work, and none need to reach the database before the commit:

- ``append`` queues a row for a table;
- ``defer`` queues a whole Core INSERT, UPDATE or DELETE.

Just before the commit the session flushes (the queued writes may refer to rows it
adds), then the queued writes run in the order they were queued. On PostgreSQL they
are one statement, each write a data-modifying CTE, so the whole batch is a single
round trip. Such CTEs all see the snapshot from before the statement, so deferred
writes must not depend on one another's effects, nor touch one row twice. A rollback
forgets them.
"""

from __future__ import annotations

from typing import Any, Final, TypeAlias

from sqlalchemy import ColumnDefault, Delete, Insert, Table, Update, event, insert
from sqlalchemy.orm import Session

Write: TypeAlias = Insert | Update | Delete

_QUEUED: Final = "werving.deferred_writes"


def append(session: Session, table: Table, row: dict[str, Any]) -> None:
    """Insert ``row`` into ``table`` when the session's transaction commits.

    Columns left out take their Python-side defaults now: a statement nested in a
    CTE would not get them.
    """
    for column in table.columns:
        default = column.default
        if column.key not in row and isinstance(default, ColumnDefault):
            row[column.key] = default.arg(None) if default.is_callable else default.arg
    _queue(session).append((table, row))


def defer(session: Session, statement: Write) -> None:
    """Run ``statement`` (with its values bound) when the session's transaction commits."""
    _queue(session).append((None, statement))


def _queue(session: Session) -> list[tuple[Table | None, Any]]:
    queued: list[tuple[Table | None, Any]] = session.info.setdefault(_QUEUED, [])
    return queued


@event.listens_for(Session, "before_commit")
def _write_deferred(session: Session) -> None:
    queued = session.info.pop(_QUEUED, None)
    if not queued:
        return
    session.flush()
    # One INSERT per row, not one per table: SQLAlchemy caches the compiled form of
    # a single-row INSERT, never that of a multi-row one.
    statements: list[Write] = [
        insert(table).values(item) if table is not None else item for table, item in queued
    ]
    connection = session.connection()
    if connection.dialect.name == "postgresql" and len(statements) > 1:
        *first, last = statements
        statements = [last.add_cte(*(s.cte(f"deferred_{i}") for i, s in enumerate(first)))]
    for statement in statements:
        connection.execute(statement)


@event.listens_for(Session, "after_soft_rollback")
def _forget_deferred(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_QUEUED, None)
