"""Counting the starts of redelivered messages (shared.messaging.delivery_attempts), on SQLite."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from shared.db.database import Database
from shared.db.models import DeliveryAttempt
from shared.db.types import utcnow
from shared.messaging.delivery_attempts import (
    RETENTION,
    DeliveryAttempts,
    sweep_delivery_attempts,
)


def _keys(db: Database) -> list[tuple[str, str, int]]:
    with db.transaction() as session:
        rows = session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.message_key))
        return [(r.consumer, r.message_key, r.starts) for r in rows]


def test_starts_are_counted_per_consumer_and_message_and_forgotten_once_settled(
    db: Database,
) -> None:
    status, mail = DeliveryAttempts(db, "status"), DeliveryAttempts(db, "mail")
    assert [status.started("m-1"), status.started("m-1"), mail.started("m-1")] == [1, 2, 1]
    status.started("m-2")

    status.settled("m-1")

    assert _keys(db) == [("mail", "m-1", 1), ("status", "m-2", 1)]


def test_counts_not_started_for_the_retention_are_swept(db: Database) -> None:
    # Given a count last started just over the retention ago, and one started now
    attempts = DeliveryAttempts(db, "status")
    attempts.started("old")
    attempts.started("recent")
    with db.transaction() as session:
        session.execute(
            update(DeliveryAttempt)
            .where(DeliveryAttempt.message_key == "old")
            .values(last_started_at=utcnow() - RETENTION - timedelta(minutes=1))
        )
    # When they are swept
    swept = sweep_delivery_attempts(db)
    # Then only the old one is gone
    assert (swept, _keys(db)) == (1, [("status", "recent", 1)])
