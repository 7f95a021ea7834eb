"""The whole path on real services: HTTP -> PostgreSQL -> relay -> RabbitMQ -> status_worker."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pika
import pytest
from sqlalchemy import func, select

from shared.db.database import Database
from shared.db.models import Application, ApplicationEvent, CommandRecord, InboxEntry, OutboxMessage
from shared.messaging.outbox import EVENT, TASK
from shared.messaging.publishers import PipelinedPublisher
from shared.messaging.relay import outgoing_for
from shared.settings import Settings
from tests.conftest import make_tenant
from tests.factories import new_key, register_body, withdraw_body
from tests.processes import wait_until
from tests.workflow import accept, run

pytestmark = pytest.mark.integration


def _outcome(api_url: str, headers: dict[str, str], location: str) -> dict[str, object]:
    result: dict[str, object] = {}

    def done() -> bool:
        result.update(httpx.get(api_url + location, headers=headers).json())
        return result["status"] != "accepted"

    wait_until(done, timeout_s=30, what=f"the outcome of {location}")
    return result


@pytest.mark.usefixtures("relay_process", "worker_process")
def test_a_command_posted_over_http_is_applied_by_a_real_worker(
    pg: Database, api_url: str, amqp: str
) -> None:
    # Given an organisation, and a subscriber to its application and command events
    tenant = make_tenant(pg)
    connection = pika.BlockingConnection(pika.URLParameters(amqp))
    channel = connection.channel()
    exchange = Settings().events_exchange
    channel.exchange_declare(exchange, exchange_type="topic", durable=True)
    events_queue = channel.queue_declare("", exclusive=True).method.queue
    for event in ("application.#", "command.#"):
        channel.queue_bind(events_queue, exchange, routing_key=f"{tenant.organisation_id}.{event}")
    # And an open vacancy, created over HTTP
    headers = tenant.headers
    vacancy = httpx.post(
        f"{api_url}/v1/vacancies",
        json={"title": "Nurse"},
        headers={**headers, "Idempotency-Key": new_key()},
    ).json()
    # When an application is registered and then withdrawn
    registered = httpx.post(
        f"{api_url}/v1/commands",
        json=register_body(vacancy["id"], actor="recruiter-1"),
        headers={**headers, "Idempotency-Key": new_key()},
    )
    assert registered.status_code == 202
    assert _outcome(api_url, headers, registered.headers["Location"])["status"] == "succeeded"
    application_id = registered.json()["application_id"]
    withdrawn = httpx.post(
        f"{api_url}/v1/commands",
        json=withdraw_body(application_id, actor="recruiter-2"),
        headers={**headers, "Idempotency-Key": new_key()},
    )
    outcome = _outcome(api_url, headers, withdrawn.headers["Location"])
    # Then the command succeeded and the application shows its status and its history
    assert outcome["status"] == "succeeded"
    application = httpx.get(f"{api_url}/v1/applications/{application_id}", headers=headers).json()
    assert (application["status"], application["version"]) == ("withdrawn", 2)
    assert [(h["from_status"], h["to_status"], h["actor"]) for h in application["history"]] == [
        (None, "received", "recruiter-1"),
        ("received", "withdrawn", "recruiter-2"),
    ]
    assert application["history"][1]["reason"] == "Accepted another offer"

    # And every outbox row, tasks and events alike, gets published
    def all_published() -> bool:
        with pg.transaction() as session:
            return not session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.published_at.is_(None))
            )

    wait_until(all_published, what="the relay to publish every outbox row")
    # And the subscriber heard of both changes and both outcomes, in order per application
    heard = []
    while (delivery := channel.basic_get(events_queue, auto_ack=True))[0] is not None:
        heard.append(json.loads(delivery[2]))
    connection.close()
    changes = [
        (e["from_status"], e["to_status"])
        for e in heard
        if e["event"] == "application.status_changed"
    ]
    outcomes = [e["status"] for e in heard if e["event"] == "command.completed"]
    assert changes == [(None, "received"), ("received", "withdrawn")]
    assert outcomes == ["succeeded", "succeeded"]
    assert all("Ann" not in json.dumps(e) for e in heard)  # events carry no personal data
    ready = httpx.get(f"{api_url}/readyz").json()
    assert ready["checks"] == {"database": "ok", "broker": "ok"}


@pytest.mark.usefixtures("worker_process")
def test_the_same_outbox_row_published_twice_changes_the_state_once(
    pg: Database, amqp: str, tmp_path: Path
) -> None:
    # Given a registered application and an accepted withdrawal
    tenant = make_tenant(pg)
    from tests.factories import open_vacancy

    registered = run(
        pg, tenant.organisation_id, register_body(open_vacancy(pg, tenant.organisation_id))
    )
    accepted = accept(pg, tenant.organisation_id, withdraw_body(registered.application_id))
    with pg.transaction() as session:
        row = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == TASK,
                OutboxMessage.payload["command_id"].as_string() == accepted["command_id"],
            )
        ).one()
        outgoing = outgoing_for(row, Settings().events_exchange)
    # When the same outbox row reaches RabbitMQ twice (a relay crash before marking it)
    publisher = PipelinedPublisher(amqp)
    publisher.connect()
    try:
        assert publisher.publish([outgoing]) == {row.id: None}
        assert publisher.publish([outgoing]) == {row.id: None}
    finally:
        publisher.close()
    # Then the worker applies it once and skips the copy
    log = tmp_path / "status_worker.log"
    wait_until(
        lambda: "command.duplicate_skipped" in log.read_text(), what="the duplicate to be skipped"
    )
    with pg.transaction() as session:
        application = session.get(Application, registered.application_id)
        assert application is not None and application.version == 2
        withdrawals = session.scalar(
            select(func.count())
            .select_from(ApplicationEvent)
            .where(ApplicationEvent.to_status == "withdrawn")
        )
        completed = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.kind == EVENT,
                OutboxMessage.destination == "command.completed",
                OutboxMessage.payload["command_id"].as_string() == accepted["command_id"],
            )
        )
        inbox = session.scalar(
            select(func.count())
            .select_from(InboxEntry)
            .where(InboxEntry.message_key == accepted["command_id"])
        )
        record = session.get(CommandRecord, uuid.UUID(accepted["command_id"]))
    assert (withdrawals, completed, inbox) == (1, 1, 1)
    assert record is not None and record.status == "succeeded"
