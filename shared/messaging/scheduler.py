"""The scheduler: hands jobs to their worker when they fall due.

Jobs wait in ``scheduled_jobs`` (PostgreSQL), not as Dramatiq delays, because
RabbitMQ closes a channel whose delivery stays unacked for 30 minutes. Each due
job becomes an outbox row in the same transaction that marks it ``enqueued``,
claimed with ``FOR UPDATE SKIP LOCKED``: two schedulers never enqueue one job twice.
"""

from __future__ import annotations

import threading

import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from shared.commands.envelope import JobMessage
from shared.db.database import Database
from shared.db.models import ScheduledJob
from shared.db.types import utcnow
from shared.messaging.outbox import enqueue_task
from shared.messaging.routes import DOCUMENT_JOB_ROUTE, MAIL_JOB_ROUTE, Route

log = structlog.get_logger(__name__)

JOB_ROUTES: dict[str, Route] = {"mail": MAIL_JOB_ROUTE, "document": DOCUMENT_JOB_ROUTE}


def enqueue_due_jobs(db: Database, *, limit: int = 500) -> int:
    """Enqueue the jobs that are due now; returns how many."""
    now = utcnow()
    with db.transaction() as session:
        jobs = session.scalars(
            select(ScheduledJob)
            .where(
                ScheduledJob.status == "pending",
                ScheduledJob.due_at <= now,
                ScheduledJob.kind.in_(JOB_ROUTES),
            )
            .order_by(ScheduledJob.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for job in jobs:
            message = JobMessage(job_id=job.id, organisation_id=job.organisation_id)
            enqueue_task(
                session, JOB_ROUTES[job.kind], job.organisation_id, message.model_dump(mode="json")
            )
            job.status = "enqueued"
            job.enqueued_at = now
    if jobs:
        log.info("scheduled_jobs.enqueued", count=len(jobs))
    return len(jobs)


def run_scheduler(db: Database, stop: threading.Event, *, interval_s: float = 1.0) -> None:
    """Enqueue due jobs until ``stop`` is set."""
    log.info("scheduler.started")
    while not stop.is_set():
        try:
            while enqueue_due_jobs(db) and not stop.is_set():
                pass
        except SQLAlchemyError as exc:
            log.warning("scheduler.round_failed", error=type(exc).__name__)
        stop.wait(interval_s)
    log.info("scheduler.stopped")
