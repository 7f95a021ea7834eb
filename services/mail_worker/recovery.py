"""Emails that no message carries any more: settled, or their job enqueued again.

An email is ``pending`` or ``sending`` while a job message holds it: in the mail queue,
waiting for a retry, or being handled. The message can go while the email stays. A worker
killed mid-send leaves its email ``sending``: RabbitMQ delivers the job again, which comes
back when the lease runs out (``jobs``), but the job may also have been acknowledged
before that rule, or dead-lettered (the delivery limit). A message lost with a broker, or
dead-lettered while the database was away longer than a day, leaves its email
``pending``. The scheduler calls :func:`recover_emails` every 30 seconds, so none of them
waits for a person:

1. ``sending`` with its lease run out: an at-most-once email (``delivery.AT_MOST_ONCE``)
   becomes ``unknown``, told as ``email.failed`` and never resent; any other becomes
   ``pending`` again and its job is enqueued again;
2. ``pending`` and untouched for ``STALE_AFTER`` (longer than any retry waits): its job is
   enqueued again, and the email touched, so that it is enqueued again only after as long
   again.

Only an email with fewer than ``MAX_SEND_ATTEMPTS`` attempts (what one job message may
make, with all its retries) is enqueued again: one that used them up has a dead letter and
waits for its replay, shown by ``werving queues`` meanwhile, rather than be retried for
ever. A job enqueued while its message still lives costs one delivery: it waits for the
job's lock and finds its email sent or claimed (then it comes back after the lease).
Two schedulers at once settle each email once: each statement re-checks its conditions on
the rows the other changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

import structlog
from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from services.mail_worker.delivery import AT_MOST_ONCE, told
from shared.commands import JobMessage
from shared.db.database import Database
from shared.db.models import OutboundEmail, ScheduledJob
from shared.db.types import utcnow
from shared.messaging.limits import STALE_AFTER
from shared.messaging.outbox import enqueue_task, publish_event
from shared.messaging.retries import MAX_RETRIES
from shared.messaging.routes import MAIL_JOB_ROUTE

log = structlog.get_logger(__name__)

MAX_SEND_ATTEMPTS: Final = 1 + MAX_RETRIES
UNKNOWN_REPLY: Final = "the sender stopped during a send; not retried"


@dataclass(frozen=True, slots=True)
class Recovered:
    unknown: int = 0  # at-most-once emails whose send may or may not have happened
    requeued: int = 0  # emails whose job was enqueued again
    left: int = 0  # pending again but out of attempts: waiting for their dead letter's replay


def recover_emails(db: Database, *, now: datetime | None = None) -> Recovered:
    """Settle the expired leases and enqueue the jobs of emails nothing carries (module
    docstring); what was done."""
    now = now or utcnow()
    with db.transaction() as session:
        unknown = _settle_unknown(session, now)
        expired = session.execute(
            update(OutboundEmail)
            .where(_expired(now), OutboundEmail.purpose.not_in(AT_MOST_ONCE))
            .values(state="pending", lease_until=None, updated_at=now)
            .returning(OutboundEmail.id, OutboundEmail.attempts)
        ).all()
        stale = session.scalars(
            update(OutboundEmail)
            .where(
                OutboundEmail.state == "pending",
                OutboundEmail.updated_at < now - STALE_AFTER,
                OutboundEmail.attempts < MAX_SEND_ATTEMPTS,
            )
            .values(updated_at=now)
            .returning(OutboundEmail.id)
        ).all()
        retry = {row.id for row in expired if row.attempts < MAX_SEND_ATTEMPTS} | set(stale)
        requeued = _enqueue_jobs(session, retry)
    left = sum(1 for row in expired if row.attempts >= MAX_SEND_ATTEMPTS)
    result = Recovered(unknown=unknown, requeued=requeued, left=left)
    if result != Recovered():
        log.warning(
            "email.recovered",
            unknown=result.unknown,
            requeued=result.requeued,
            out_of_attempts=result.left,
        )
    return result


def _expired(now: datetime) -> ColumnElement[bool]:
    return and_(OutboundEmail.state == "sending", OutboundEmail.lease_until < now)


def _settle_unknown(session: Session, now: datetime) -> int:
    """At-most-once emails whose sender stopped mid-send: ``unknown``, each told."""
    rows = session.execute(
        update(OutboundEmail)
        .where(_expired(now), OutboundEmail.purpose.in_(AT_MOST_ONCE))
        .values(state="unknown", lease_until=None, updated_at=now, smtp_reply=UNKNOWN_REPLY)
        .returning(
            OutboundEmail.id,
            OutboundEmail.organisation_id,
            OutboundEmail.application_id,
            OutboundEmail.purpose,
        )
    ).all()
    for row in rows:
        publish_event(session, told(row, "unknown", now))
        log.error("email.outcome_unknown", email_id=str(row.id), purpose=row.purpose)
    return len(rows)


def _enqueue_jobs(session: Session, email_ids: set[UUID]) -> int:
    """Enqueue again the jobs of these emails whose job is still enqueued (not cancelled,
    not purged); how many."""
    if not email_ids:
        return 0
    jobs = session.execute(
        select(ScheduledJob.id, ScheduledJob.organisation_id)
        .join(
            OutboundEmail,
            and_(
                OutboundEmail.job_id == ScheduledJob.id,
                OutboundEmail.organisation_id == ScheduledJob.organisation_id,
            ),
        )
        .where(OutboundEmail.id.in_(email_ids), ScheduledJob.status == "enqueued")
    ).all()
    for job in jobs:
        message = JobMessage(job_id=job.id, organisation_id=job.organisation_id)
        enqueue_task(session, MAIL_JOB_ROUTE, job.organisation_id, message.model_dump(mode="json"))
    return len(jobs)
