"""Two schedulers on PostgreSQL enqueue each due job exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shared.db.database import Database
from shared.db.models import OutboxMessage, ScheduledJob
from shared.db.types import utcnow
from shared.ids import new_id
from shared.messaging.scheduler import enqueue_due_jobs
from tests.conftest import make_tenant

pytestmark = pytest.mark.integration


def test_two_schedulers_running_at_once_enqueue_every_due_job_once(pg: Database) -> None:
    # Given 600 due jobs and 50 that are not due yet
    tenant = make_tenant(pg)
    now = utcnow()
    with pg.transaction() as session:
        session.add_all(
            ScheduledJob(
                id=new_id(),
                organisation_id=tenant.organisation_id,
                kind="mail",
                purpose="rejection",
                payload={},
                due_at=now - timedelta(seconds=1) if n < 600 else now + timedelta(hours=1),
            )
            for n in range(650)
        )
    # When two schedulers drain at the same time, in small batches
    counts: list[int] = []

    def drain() -> None:
        total = 0
        while enqueued := enqueue_due_jobs(pg, limit=25):
            total += enqueued
        counts.append(total)

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Then each due job became exactly one mail task, and the rest still wait
    with pg.transaction() as session:
        tasks = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.destination == "mail")
        )
        job_ids = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.destination == "mail")
        ).all()
        pending = session.scalar(
            select(func.count()).select_from(ScheduledJob).where(ScheduledJob.status == "pending")
        )
    assert sum(counts) == tasks == 600
    assert len({p["job_id"] for p in job_ids}) == 600
    assert pending == 50
