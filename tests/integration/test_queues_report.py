"""``werving queues``: what is waiting on RabbitMQ and in PostgreSQL, for ops."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pika
import pytest

from shared.db.database import Database
from shared.db.models import ScheduledJob
from shared.db.types import utcnow
from shared.messaging.dead_letters import record_dead_letter
from shared.messaging.outbox import enqueue_task
from shared.messaging.routes import route_for
from tests.conftest import make_tenant
from tests.processes import run_werving, wait_until

pytestmark = pytest.mark.integration


def _report(env: dict[str, str]) -> dict[str, Any]:
    done = run_werving(env, "queues", "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.mark.usefixtures("worker_process")
def test_the_report_shows_queue_depths_consumers_outbox_lag_due_jobs_and_dead_letters(
    pg: Database, amqp: str, env: dict[str, str]
) -> None:
    # Given a status worker consuming, two messages in its dead-letter queue,
    wait_until(
        lambda: (_report(env)["queues"]["status"]["consumers"] or 0) >= 1,
        what="the status worker to consume",
    )
    connection = pika.BlockingConnection(pika.URLParameters(amqp))
    for _ in range(2):
        connection.channel().basic_publish("", "status.XQ", b"{}")
    connection.close()
    # three tasks no relay has published, a job past due that no scheduler took,
    # and a dead letter nobody replayed
    org = make_tenant(pg).organisation_id
    with pg.transaction() as session:
        for _ in range(3):
            enqueue_task(
                session,
                route_for("withdraw_application"),
                org,
                {"command_id": str(uuid.uuid4()), "organisation_id": str(org)},
            )
        session.add(
            ScheduledJob(
                organisation_id=org,
                kind="mail",
                purpose="receipt",
                payload={},
                due_at=utcnow() - timedelta(minutes=5),
            )
        )
        record_dead_letter(
            session, source="ingress", queue="werving.commands", reason="x", body="{"
        )

    report = _report(env)

    assert report["queues"]["status"]["consumers"] >= 1
    assert report["queues"]["status.XQ"] == {"ready": 2, "consumers": 0}
    assert report["outbox_unpublished"]["count"] == 3
    assert report["outbox_unpublished"]["oldest_age_s"] >= 0
    assert report["scheduled_jobs_past_due"]["count"] == 1
    assert report["scheduled_jobs_past_due"]["oldest_age_s"] >= 5 * 60
    assert report["dead_letters_not_replayed"]["count"] == 1
