"""What is waiting, for ops: queue depths on RabbitMQ, outbox lag, due jobs, dead letters,
and the work that should have moved on and did not: emails by state, and jobs whose email
or document never came.

"Past its time" means: an email ``pending`` that nothing touched for ``STALE_AFTER``
(every retry comes back sooner), one ``sending`` past its lease, and every ``unknown``
one (it waits for a person to find out); a job enqueued ``STALE_AFTER`` ago or more whose
work is not there. The scheduler's recovery sends most of those emails on within a minute
(``services.mail_worker.recovery``); what stays here needs a look.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pika
from sqlalchemy import ColumnElement, and_, case, exists, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from shared.db.models import DeadLetter, Document, OutboundEmail, OutboxMessage, ScheduledJob
from shared.documents.jobs import ERASE_FILES
from shared.messaging.limits import STALE_AFTER

# Enqueued jobs are looked at for this long: a job stuck longer has been shown for a week
# (and has a dead letter, or it would have moved on).
JOBS_LOOKBACK = timedelta(days=7)
EMAIL_STATES_TO_WATCH = ("pending", "sending", "unknown")


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


@dataclass(frozen=True, slots=True)
class EmailsInState:
    """The emails in one state, how many of them are past their time, and how long ago
    the one that changed longest ago last changed."""

    state: str
    count: int
    past_time: int
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
    session: Session,
    since: QueryableAttribute[datetime] | QueryableAttribute[datetime | None],
    now: datetime,
    *where: ColumnElement[Any],
) -> Waiting:
    count, oldest = session.execute(select(func.count(), func.min(since)).where(*where)).one()
    return Waiting(count, now - oldest if oldest is not None else None)


def emails_by_state(session: Session, now: datetime) -> list[EmailsInState]:
    """The emails that are not settled for good (every organisation's), by state."""
    late = case(
        (
            and_(OutboundEmail.state == "pending", OutboundEmail.updated_at < now - STALE_AFTER),
            1,
        ),
        (and_(OutboundEmail.state == "sending", OutboundEmail.lease_until < now), 1),
        (OutboundEmail.state == "unknown", 1),
    )
    rows = session.execute(
        select(
            OutboundEmail.state,
            func.count(),
            func.count(late),
            func.min(OutboundEmail.updated_at),
        )
        .where(OutboundEmail.state.in_(EMAIL_STATES_TO_WATCH))
        .group_by(OutboundEmail.state)
    ).all()
    found = {state: (count, past, oldest) for state, count, past, oldest in rows}
    return [
        EmailsInState(state, count, past, None if oldest is None else now - oldest)
        for state in EMAIL_STATES_TO_WATCH
        for count, past, oldest in [found.get(state, (0, 0, None))]
    ]


def mail_jobs_without_email(session: Session, now: datetime) -> Waiting:
    """Mail jobs enqueued ``STALE_AFTER`` ago or more (within ``JOBS_LOOKBACK``) that no
    mail_worker composed an email for."""
    return _unfinished(
        session,
        now,
        ScheduledJob.kind == "mail",
        ~exists().where(OutboundEmail.job_id == ScheduledJob.id),
    )


def document_jobs_without_document(session: Session, now: datetime) -> Waiting:
    """Document jobs enqueued ``STALE_AFTER`` ago or more (within ``JOBS_LOOKBACK``) whose
    document was never stored (erasing files leaves no row to look for)."""
    return _unfinished(
        session,
        now,
        ScheduledJob.kind == "document",
        ScheduledJob.purpose != ERASE_FILES,
        ~exists().where(Document.job_id == ScheduledJob.id),
    )


def _unfinished(session: Session, now: datetime, *where: ColumnElement[bool]) -> Waiting:
    enqueued_at = ScheduledJob.enqueued_at
    return _waiting(
        session,
        enqueued_at,
        now,
        ScheduledJob.status == "enqueued",
        enqueued_at >= now - JOBS_LOOKBACK,
        enqueued_at < now - STALE_AFTER,
        *where,
    )
