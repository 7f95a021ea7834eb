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
from shared.outages import UNEXPECTED_FAILURE_PAUSE_S, Outage

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
    """Enqueue due jobs until ``stop`` is set, whatever fails meanwhile: the database being
    away is logged once per outage and retried with a growing pause (the pool replaces
    lost connections); anything else is logged with its traceback and retried after
    ``UNEXPECTED_FAILURE_PAUSE_S``."""
    log.info("scheduler.started")
    database = Outage("database", loop="scheduler")
    while not stop.is_set():
        try:
            while enqueue_due_jobs(db) and not stop.is_set():
                pass
        except SQLAlchemyError as exc:
            stop.wait(database.failed(exc))
            continue
        except Exception:  # a bug: said loudly, and the next round comes
            log.exception("scheduler.round_failed")
            stop.wait(UNEXPECTED_FAILURE_PAUSE_S)
            continue
        database.restored()
        stop.wait(interval_s)
    log.info("scheduler.stopped")
