"""The idempotent consumer: remember each handled message in the handler's transaction."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shared.db.models import InboxEntry


def first_delivery(session: Session, consumer: str, message_key: str) -> bool:
    """Record ``message_key`` for ``consumer``; False when it was already recorded.

    ``INSERT ... ON CONFLICT DO NOTHING`` is atomic under concurrency: a second
    copy of the message waits for the first transaction and then sees the conflict.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(InboxEntry)
        .values(consumer=consumer, message_key=message_key)
        .on_conflict_do_nothing(index_elements=["consumer", "message_key"])
        .returning(InboxEntry.message_key)
    )
    # RETURNING, not rowcount: an ORM session reports -1 for this statement.
    return session.execute(statement).first() is not None
