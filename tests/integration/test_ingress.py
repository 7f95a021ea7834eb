"""AMQP ingress: upstream systems publish command envelopes straight onto RabbitMQ."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from sqlalchemy import select

from shared.db.database import Database
from shared.db.models import CommandRecord, DeadLetter
from shared.settings import Settings
from tests.conftest import make_tenant
from tests.factories import open_vacancy, register_body
from tests.processes import running, wait_until, werving
from tests.workflow import run

pytestmark = pytest.mark.integration

AMQP_USER = "guest"  # the login RabbitMQ validates ``user_id`` against


@pytest.fixture
def ingress_process(env: dict[str, str], tmp_path: Path) -> Iterator[None]:
    with running(werving("ingress"), env=env, log_path=tmp_path / "ingress.log"):
        yield


def _publish(url: str, body: bytes, *, user_id: str | None = AMQP_USER) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        queue = Settings().ingress_queue
        channel.queue_declare(queue, durable=True)
        channel.confirm_delivery()
        channel.basic_publish(
            "",
            queue,
            body,
            pika.BasicProperties(delivery_mode=2, user_id=user_id, content_type="application/json"),
        )
    finally:
        connection.close()


def _envelope(vacancy_id: uuid.UUID, key: str) -> bytes:
    return json.dumps({"idempotency_key": key, "command": register_body(vacancy_id)}).encode()


def _command_status(db: Database, key: str) -> str | None:
    with db.transaction() as session:
        return session.scalar(
            select(CommandRecord.status).where(CommandRecord.idempotency_key == key)
        )


@pytest.mark.usefixtures("ingress_process", "relay_process", "worker_process")
def test_an_envelope_published_with_pika_ends_as_a_succeeded_command(
    pg: Database, amqp: str
) -> None:
    # Given an organisation that publishes as the RabbitMQ user "guest"
    tenant = make_tenant(pg, amqp_user=AMQP_USER)
    key = f"amqp-{uuid.uuid4()}"
    # When it publishes a registration envelope
    _publish(amqp, _envelope(open_vacancy(pg, tenant.organisation_id), key))
    # Then the command is accepted for that organisation and carried out
    wait_until(lambda: _command_status(pg, key) == "succeeded", what="the AMQP command to succeed")
    with pg.transaction() as session:
        record = session.scalars(
            select(CommandRecord).where(CommandRecord.idempotency_key == key)
        ).one()
    assert (record.source, record.organisation_id) == ("amqp", tenant.organisation_id)


@pytest.mark.usefixtures("ingress_process", "relay_process", "worker_process")
def test_bad_envelopes_are_dead_lettered_with_their_reason_and_the_next_one_is_processed(
    pg: Database, amqp: str
) -> None:
    tenant = make_tenant(pg, amqp_user=AMQP_USER)
    vacancy = open_vacancy(pg, tenant.organisation_id)
    good_key = f"amqp-{uuid.uuid4()}"
    # Given a message that is not JSON, one with an invalid email, one without user_id
    _publish(amqp, b"\x00not json at all")
    _publish(
        amqp,
        json.dumps(
            {
                "idempotency_key": f"amqp-{uuid.uuid4()}",
                "command": register_body(vacancy, applicant={"name": "Ann", "email": "nope"}),
            }
        ).encode(),
    )
    _publish(amqp, _envelope(vacancy, f"amqp-{uuid.uuid4()}"), user_id=None)
    # When a good one follows
    _publish(amqp, _envelope(vacancy, good_key))
    # Then the good one succeeds and the three bad ones are dead letters with reasons
    wait_until(lambda: _command_status(pg, good_key) == "succeeded", what="the good command")
    with pg.transaction() as session:
        reasons = sorted(session.scalars(select(DeadLetter.reason)).all())
        sources = set(session.scalars(select(DeadLetter.source)).all())
        bodies = [
            base64.b64decode(letter.body)
            if letter.body_encoding == "base64"
            else letter.body.encode()
            for letter in session.scalars(select(DeadLetter))
        ]
    assert len(reasons) == 3
    assert sources == {"ingress"}
    assert any("invalid command envelope" in r and "Invalid JSON" in r for r in reasons)
    assert any("command.applicant.email" in r for r in reasons)
    assert any("unauthorised: the message has no user_id property" in r for r in reasons)
    assert b"\x00not json at all" in bodies  # kept byte for byte, for inspection and replay


@pytest.mark.usefixtures("ingress_process", "relay_process", "worker_process")
def test_a_bulk_envelope_fans_out_into_one_command_per_application(pg: Database, amqp: str) -> None:
    # Given three received applications of an organisation publishing as "guest"
    tenant = make_tenant(pg, amqp_user=AMQP_USER)
    vacancy = open_vacancy(pg, tenant.organisation_id)
    applications = [
        run(pg, tenant.organisation_id, register_body(vacancy)).application_id for _ in range(3)
    ]
    key = f"amqp-bulk-{uuid.uuid4()}"
    # When it publishes one bulk withdrawal, and then an invalid bulk
    bulk = {
        "idempotency_key": key,
        "application_ids": [str(a) for a in applications],
        "command": {"type": "withdraw_application", "reason": "Vacancy cancelled"},
    }
    _publish(amqp, json.dumps(bulk).encode())
    invalid = {**bulk, "idempotency_key": f"{key}-bad", "command": {"type": "hire_applicant"}}
    _publish(amqp, json.dumps(invalid).encode())
    # Then each application got its own command, key and outcome
    derived = [f"{key}/{a}" for a in applications]
    wait_until(
        lambda: all(_command_status(pg, k) == "succeeded" for k in derived),
        what="every bulk command to succeed",
    )
    with pg.transaction() as session:
        sources = session.scalars(
            select(CommandRecord.source).where(CommandRecord.idempotency_key.in_(derived))
        ).all()
    assert sources == ["amqp"] * 3
    # And the invalid bulk is a dead letter naming the field, with no command
    wait_until(lambda: _dead_letters(pg, f"{key}-bad") == 1, what="the invalid bulk's dead letter")
    with pg.transaction() as session:
        letter = session.scalars(
            select(DeadLetter).where(DeadLetter.body.contains(f"{key}-bad"))
        ).one()
        assert "invalid bulk command" in letter.reason and "position_id" in letter.reason
    assert _command_status(pg, f"{key}-bad/{applications[0]}") is None


def _dead_letters(db: Database, text: str) -> int:
    with db.transaction() as session:
        return len(session.scalars(select(DeadLetter).where(DeadLetter.body.contains(text))).all())
