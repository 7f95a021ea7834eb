"""Counting how often a redelivered message is started, in the database.

RabbitMQ sets ``redelivered`` on a message it delivers again because its consumer died or
lost the connection before settling it; werving's queues are classic ones, which keep no
count. A message that kills its consumer (out of memory, a crash in a C library) would
come back for ever, taking the process with it each time; counted here, it is
dead-lettered after ``MAX_REDELIVERIES`` starts instead.

Only starts are counted, not deliveries: a message prefetched beside a poison one and
requeued with it is charged once it is started again, and not for sitting in the window.
The first delivery is never counted (nothing is written for a message that is not
redelivered); a settled message's row is deleted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from shared.db.availability import ONCE_MORE, retried_while_unavailable
from shared.db.database import Database
from shared.db.models import DeliveryAttempt
from shared.db.types import utcnow

# A row outlives its message only when that message left the queue unsettled some other
# way (a purge, a deleted queue); swept after this.
RETENTION = timedelta(days=7)


class DeliveryAttempts:
    """The start counts of one consumer's redelivered messages."""

    def __init__(self, db: Database, consumer: str) -> None:
        self._db = db
        self._consumer = consumer

    def started(self, message_key: str) -> int:
        """Count one more start of a redelivered message; how many there have been."""
        insert = postgresql.insert if self._db.is_postgresql else sqlite.insert
        values = insert(DeliveryAttempt).values(
            consumer=self._consumer, message_key=message_key, starts=1, last_started_at=utcnow()
        )
        statement = values.on_conflict_do_update(
            index_elements=[DeliveryAttempt.consumer, DeliveryAttempt.message_key],
            set_={
                "starts": DeliveryAttempt.starts + 1,
                "last_started_at": values.excluded.last_started_at,
            },
        ).returning(DeliveryAttempt.starts)

        def count() -> int:
            with self._db.single_statement() as connection:
                return int(connection.execute(statement).scalar_one())

        # A pooled connection a database restart left dead is replaced and tried once more.
        return retried_while_unavailable(count, what="delivery count", pauses=ONCE_MORE)

    def settled(self, message_key: str) -> None:
        """Forget a message that has been settled."""
        statement = delete(DeliveryAttempt).where(
            DeliveryAttempt.consumer == self._consumer,
            DeliveryAttempt.message_key == message_key,
        )

        def forget() -> None:
            with self._db.single_statement() as connection:
                connection.execute(statement)

        retried_while_unavailable(forget, what="delivery count", pauses=ONCE_MORE)


def sweep_delivery_attempts(db: Database, *, now: datetime | None = None) -> int:
    """Delete the counts of messages not started for ``RETENTION``; how many."""
    cutoff = (now or utcnow()) - RETENTION
    with db.single_statement() as connection:
        result = connection.execute(
            delete(DeliveryAttempt).where(DeliveryAttempt.last_started_at < cutoff)
        )
    return int(result.rowcount)


def limit_reached_reason(starts: int) -> str:
    """Why a message is dead-lettered at its ``starts``-th redelivered start: counting its
    first delivery, it was started that many times before, and never settled."""
    return f"delivery limit: started {starts} times without being settled"
