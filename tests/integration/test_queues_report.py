"""``werving queues``: what is waiting on RabbitMQ and in PostgreSQL, for ops."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pika
import pytest
from sqlalchemy.orm import Session

from shared.db.database import Database
from shared.db.models import OutboundEmail, ScheduledJob
from shared.db.types import utcnow
from shared.documents.jobs import ERASE_FILES
from shared.ids import new_id
from shared.messaging.dead_letters import record_dead_letter
from shared.messaging.limits import STALE_AFTER
from shared.messaging.outbox import enqueue_task
from shared.messaging.routes import route_for
from tests.conftest import make_tenant
from tests.processes import run_werving, wait_until

pytestmark = pytest.mark.integration

LEASE = timedelta(minutes=5)


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


def _job(
    session: Session, org: uuid.UUID, kind: str, purpose: str, enqueued_ago: timedelta
) -> uuid.UUID:
    job = ScheduledJob(
        id=new_id(),
        organisation_id=org,
        kind=kind,
        purpose=purpose,
        payload={},
        due_at=utcnow() - enqueued_ago,
        status="enqueued",
        enqueued_at=utcnow() - enqueued_ago,
    )
    session.add(job)
    return job.id


def _email(
    session: Session,
    org: uuid.UUID,
    state: str,
    *,
    changed_ago: timedelta,
    lease_left: timedelta | None = None,
) -> None:
    job_id = _job(session, org, "mail", "receipt", changed_ago)
    session.add(
        OutboundEmail(
            organisation_id=org,
            job_id=job_id,
            purpose="receipt",
            sender="hr@acme.example",
            recipient="ann@example.org",
            message_id_header="<x@acme.example>",
            mime=b"",
            state=state,
            attempts=1,
            lease_until=None if lease_left is None else utcnow() + lease_left,
            updated_at=utcnow() - changed_ago,
        )
    )


def test_the_report_shows_emails_by_state_and_work_that_never_came(
    pg: Database, env: dict[str, str]
) -> None:
    org = make_tenant(pg).organisation_id
    stale = STALE_AFTER + timedelta(minutes=1)
    with pg.transaction() as session:
        # Given a pending email being retried, and one nothing touched for too long
        _email(session, org, "pending", changed_ago=timedelta(seconds=30))
        _email(session, org, "pending", changed_ago=stale)
        # one being sent, and one whose sender died (its lease ran out)
        _email(session, org, "sending", changed_ago=timedelta(seconds=5), lease_left=LEASE)
        _email(session, org, "sending", changed_ago=LEASE, lease_left=-timedelta(seconds=1))
        # one whose outcome is unknown, and one sent (settled: not shown)
        _email(session, org, "unknown", changed_ago=timedelta(hours=2))
        _email(session, org, "sent", changed_ago=timedelta(hours=3))
        # a mail job and a contract enqueued long ago whose email and document never came,
        # and others enqueued a moment ago (on their way)
        _job(session, org, "mail", "receipt", stale)
        _job(session, org, "mail", "receipt", timedelta(seconds=10))
        _job(session, org, "document", "contract", stale)
        _job(session, org, "document", "contract", timedelta(seconds=10))
        _job(session, org, "document", ERASE_FILES, stale)  # leaves no document: not counted

    report = _report(env)

    emails = report["emails"]
    assert {state: (e["count"], e["past_time"]) for state, e in emails.items()} == {
        "pending": (2, 1),
        "sending": (2, 1),
        "unknown": (1, 1),
    }
    assert emails["pending"]["oldest_age_s"] >= stale.total_seconds()
    assert emails["unknown"]["oldest_age_s"] >= 2 * 3600
    assert report["mail_jobs_without_an_email"]["count"] == 1
    assert report["mail_jobs_without_an_email"]["oldest_age_s"] >= stale.total_seconds()
    assert report["document_jobs_without_a_document"]["count"] == 1
    # And the text report says the same, for a person
    text = run_werving(env, "queues").stdout
    assert "emails pending: 2 (1 past their time)" in text
    assert "emails sending: 2 (1 past their time)" in text
    assert "document jobs without a document: 1" in text
