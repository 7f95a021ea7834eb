"""What is waiting, for ops: queue depths on RabbitMQ, outbox lag, due jobs, dead letters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pika
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from shared.db.models import DeadLetter, OutboxMessage, ScheduledJob


@dataclass(frozen=True, slots=True)
class QueueDepth:
    queue: str
    # None when the queue is not declared (no worker or publisher has run yet).
    messages: int | None
    consumers: int | None


@dataclass(frozen=True, slots=True)
class Waiting:
    """Rows waiting in PostgreSQL, with the age of the oldest."""

    count: int
    oldest_age: timedelta | None


def queue_depths(broker_url: str, queues: Iterable[str]) -> list[QueueDepth]:
    """Ready messages and consumers of each queue (a passive declare: nothing is created)."""
    depths = []
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel = connection.channel()
        for queue in queues:
            try:
                method = channel.queue_declare(queue, passive=True).method
            except pika.exceptions.ChannelClosedByBroker:  # 404: not declared
                depths.append(QueueDepth(queue, None, None))
                channel = connection.channel()
                continue
            depths.append(QueueDepth(queue, method.message_count, method.consumer_count))
    finally:
        connection.close()
    return depths


def outbox_lag(session: Session, now: datetime) -> Waiting:
    """Outbox rows the relay has not published yet (every organisation's)."""
    return _waiting(
        session,
        OutboxMessage.created_at,
        now,
        OutboxMessage.published_at.is_(None),
    )


def overdue_jobs(session: Session, now: datetime) -> Waiting:
    """Scheduled jobs that fell due and are still pending: the scheduler is behind or down."""
    return _waiting(
        session,
        ScheduledJob.due_at,
        now,
        ScheduledJob.status == "pending",
        ScheduledJob.due_at <= now,
    )


def unreplayed_dead_letters(session: Session, now: datetime) -> Waiting:
    return _waiting(session, DeadLetter.created_at, now, DeadLetter.replayed_at.is_(None))


def _waiting(
    session: Session, since: QueryableAttribute[datetime], now: datetime, *where: ColumnElement[Any]
) -> Waiting:
    count, oldest = session.execute(select(func.count(), func.min(since)).where(*where)).one()
    return Waiting(count, now - oldest if oldest is not None else None)
