"""The idempotent consumer: remember each handled message in the handler's transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from sqlalchemy import Insert, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shared.db.models import InboxEntry

_inbox: Table = InboxEntry.__table__  # type: ignore[assignment]


def _insert_if_absent(
    insert: Callable[[Table], postgresql.Insert] | Callable[[Table], sqlite.Insert],
) -> Insert:
    return (
        insert(_inbox)
        .values(consumer=bindparam("consumer_name"), message_key=bindparam("key"))
        .on_conflict_do_nothing(index_elements=["consumer", "message_key"])
        .returning(_inbox.c.message_key)
    )


# Parameters ``consumer_name`` and ``key``; RETURNING a row when the key is new.
INSERT_IF_ABSENT: Final = {
    "postgresql": _insert_if_absent(postgresql.insert),
    "sqlite": _insert_if_absent(sqlite.insert),
}


def first_delivery(session: Session, consumer: str, message_key: str) -> bool:
    """Record ``message_key`` for ``consumer``; False when it was already recorded.

    ``INSERT ... ON CONFLICT DO NOTHING`` is atomic under concurrency: a second
    copy of the message waits for the first transaction and then sees the conflict.
    """
    connection = session.connection()
    statement = INSERT_IF_ABSENT[connection.dialect.name]
    # RETURNING, not rowcount: rowcount is not reliable for this statement everywhere.
    return (
        connection.execute(statement, {"consumer_name": consumer, "key": message_key}).first()
        is not None
    )
