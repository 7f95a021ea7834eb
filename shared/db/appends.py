"""Append-only rows (history, outbox) written with one INSERT per table at commit.

These rows are never read or changed in the transaction that writes them, so they
need none of the ORM's unit-of-work bookkeeping: ``append`` queues a plain row on
the session, and just before the commit the queued rows go out as one multi-row
``INSERT`` per table, after the session's own flush (their foreign keys may point
at rows that flush writes). A rollback forgets them.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Table, event, insert
from sqlalchemy.orm import Session

_PENDING: Final = "werving.appends"


def append(session: Session, table: Table, row: dict[str, Any]) -> None:
    """Insert ``row`` into ``table`` when the session's transaction commits."""
    pending: dict[Table, list[dict[str, Any]]] = session.info.setdefault(_PENDING, {})
    pending.setdefault(table, []).append(row)


def pending_rows(session: Session, table: Table) -> list[dict[str, Any]]:
    """The rows queued for ``table`` that the commit has not written yet."""
    pending: dict[Table, list[dict[str, Any]]] = session.info.get(_PENDING, {})
    return list(pending.get(table, ()))


@event.listens_for(Session, "before_commit")
def _write_appends(session: Session) -> None:
    pending: dict[Table, list[dict[str, Any]]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()
    connection = session.connection()
    for table, rows in pending.items():
        connection.execute(insert(table), rows)


@event.listens_for(Session, "after_soft_rollback")
def _forget_appends(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_PENDING, None)
