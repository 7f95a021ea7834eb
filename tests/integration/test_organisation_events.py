"""Events stay inside their organisation, and ingress refusals reach their publisher, on
real RabbitMQ and PostgreSQL with the real ingress, relay, status worker and API.

Each organisation's RabbitMQ user gets exactly the permissions ``werving org create``
prints, run as printed.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import func, select

from services.command_api.api_keys import ALL_SCOPES, create_api_key
from services.command_api.ingress import CommandIngress, Verdict
from shared.db.database import Database
from shared.db.models import CommandRecord, CommandRefusal, OutboxMessage
from shared.messaging.grants import vhost_of
from shared.messaging.outbox import EVENT
from shared.settings import Settings
from tests.conftest import make_tenant
from tests.factories import open_vacancy, register_body, withdraw_body
from tests.processes import run_werving, running, wait_until, werving
from tests.workflow import run

pytestmark = pytest.mark.integration

SETTINGS = Settings()


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class Integrator:
    """An organisation as its upstream system sees it: its RabbitMQ login and API key."""

    organisation_id: uuid.UUID
    user: str
    url: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture
def rabbitmq_users(amqp: str) -> Iterator[Callable[[], tuple[str, str]]]:
    """Makes RabbitMQ users (name and broker URL) with no permissions yet; deletes them after."""
    if shutil.which("rabbitmqctl") is None:
        message = "rabbitmqctl is needed to create RabbitMQ users"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must provide it", pytrace=False)
        pytest.skip(message)
    made: list[str] = []
    base = pika.URLParameters(amqp)

    def make() -> tuple[str, str]:
        user, password = f"werving-test-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
        _rabbitmqctl("add_user", user, password)
        made.append(user)
        vhost = quote(vhost_of(amqp), safe="")
        return user, f"amqp://{user}:{password}@{base.host}:{base.port}/{vhost}"

    yield make
    for user in made:
        _rabbitmqctl("delete_user", user)


@pytest.fixture
def ingress_process(env: dict[str, str], tmp_path: Path) -> Iterator[None]:
    with running(werving("ingress"), env=env, log_path=tmp_path / "ingress.log"):
        yield


def _integrator(
    pg: Database, env: dict[str, str], name: str, user: str, url: str
) -> tuple[Integrator, list[list[str]]]:
    """Create the organisation with the CLI, and run the commands it printed."""
    created = run_werving(env, "org", "create", "--name", name, "--amqp-user", user)
    assert created.returncode == 0, created.stderr
    organisation_id = uuid.UUID(created.stdout.strip())
    printed = [shlex.split(line) for line in created.stderr.splitlines() if line.startswith("rab")]
    for command in printed:
        subprocess.run(command, check=True, capture_output=True, timeout=60)
    with pg.transaction() as session:
        api_key = create_api_key(session, organisation_id, list(ALL_SCOPES))
    return Integrator(organisation_id, user, url, api_key), printed


def _exchange_exists(amqp: str, exchange: str) -> bool:
    connection = pika.BlockingConnection(pika.URLParameters(amqp))
    try:
        connection.channel().exchange_declare(exchange, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        if connection.is_open:
            connection.close()


def _refused(connection: pika.BlockingConnection, act: Callable[[BlockingChannel], Any]) -> int:
    """The reply code RabbitMQ closes a fresh channel with when ``act`` is refused."""
    channel = connection.channel()
    channel.confirm_delivery()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as closed:
        act(channel)
    return int(closed.value.reply_code)


class Publisher:
    """An upstream system publishing envelopes on the ingress exchange as its own user."""

    def __init__(self, integrator: Integrator) -> None:
        self._integrator = integrator
        self._connection = pika.BlockingConnection(pika.URLParameters(integrator.url))
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()

    def publish(self, envelope: dict[str, Any] | bytes, message_id: str | None = None) -> None:
        body = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
        self._channel.basic_publish(
            SETTINGS.ingress_exchange,
            SETTINGS.ingress_queue,
            body,
            pika.BasicProperties(
                delivery_mode=2,
                content_type="application/json",
                user_id=self._integrator.user,
                message_id=message_id or f"m-{uuid.uuid4()}",
            ),
            mandatory=True,
        )

    def close(self) -> None:
        self._connection.close()


def _entries(api_url: str, integrator: Integrator, key: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{api_url}/v1/commands", params={"idempotency_key": key}, headers=integrator.headers
    )
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


def _mixed_run(pg: Database, integrator: Integrator) -> dict[str, Any]:
    """The envelopes one organisation publishes: good ones and every kind of refusal.
    Returns them, and the keys the refusals come under, by kind."""
    organisation = integrator.organisation_id
    vacancy = open_vacancy(pg, organisation)
    registered, taken, other = (
        run(pg, organisation, register_body(vacancy)).application_id for _ in range(3)
    )
    tag = uuid.uuid4().hex[:8]
    keys = {
        "register": f"reg-{tag}",
        "withdraw": f"wd-{tag}",
        "invalid": f"bad-{tag}",
        "unknown": f"unknown-{tag}",
        "bulk_invalid": f"bulk-bad-{tag}",
        "derived": f"bulk-{tag}/{taken}",
    }
    bad_email = register_body(vacancy, applicant={"name": "Ann", "email": "ann-at-example.org"})
    envelopes: list[tuple[dict[str, Any] | bytes, str | None]] = [
        ({"idempotency_key": keys["register"], "command": register_body(vacancy)}, None),
        ({"idempotency_key": keys["withdraw"], "command": withdraw_body(registered)}, None),
        ({"idempotency_key": keys["invalid"], "command": bad_email}, None),
        ({"idempotency_key": keys["unknown"], "command": {"type": "fly_to_the_moon"}}, None),
        # the same key with another body
        ({"idempotency_key": keys["register"], "command": register_body(vacancy)}, None),
        (
            {
                "idempotency_key": keys["bulk_invalid"],
                "application_ids": [str(taken), str(other)],
                "command": {"type": "hire_applicant"},
            },
            None,
        ),
        # a derived key used first for another command, then inside a bulk
        ({"idempotency_key": keys["derived"], "command": withdraw_body(taken)}, None),
        (
            {
                "idempotency_key": f"bulk-{tag}",
                "application_ids": [str(taken), str(other)],
                "command": {"type": "save_application"},
            },
            None,
        ),
        (b"\x00not json", f"garbage-{tag}"),
    ]
    return {"keys": keys, "envelopes": envelopes, "garbage": f"garbage-{tag}"}


@pytest.mark.usefixtures("ingress_process", "relay_process", "worker_process")
def test_a_subscriber_hears_all_of_its_organisations_events_and_none_of_anothers(
    pg: Database,
    amqp: str,
    env: dict[str, str],
    api_url: str,
    rabbitmq_users: Callable[[], tuple[str, str]],
) -> None:
    # Given organisations A and B, whose RabbitMQ users got what `werving org create` printed
    (user_a, url_a), (user_b, url_b) = rabbitmq_users(), rabbitmq_users()
    a, printed = _integrator(pg, env, "A", user_a, url_a)
    b, _ = _integrator(pg, env, "B", user_b, url_b)
    assert [c[:2] for c in printed] == [
        ["rabbitmqctl", "set_permissions"],
        ["rabbitmqctl", "set_topic_permissions"],
    ]
    for exchange in (SETTINGS.events_exchange, SETTINGS.ingress_exchange):
        wait_until(partial(_exchange_exists, amqp, exchange), what=f"{exchange} declared")
    # And A's user subscribes to A's events with <A>.#
    subscriber = pika.BlockingConnection(pika.URLParameters(a.url))
    channel = subscriber.channel()
    queue = f"{a.organisation_id}.events"
    channel.queue_declare(queue, exclusive=True)
    channel.queue_bind(queue, SETTINGS.events_exchange, routing_key=f"{a.organisation_id}.#")
    # But RabbitMQ refuses it #, B's keys, one event type of everybody, and publishing
    # anywhere but the ingress exchange
    events = SETTINGS.events_exchange
    for binding in ("#", f"{b.organisation_id}.#", "*.command.completed"):
        bind = partial(BlockingChannel.queue_bind, queue=queue, exchange=events)
        assert _refused(subscriber, partial(bind, routing_key=binding)) == 403, binding
    forged = pika.BasicProperties(user_id=a.user)
    assert _refused(subscriber, lambda c: c.basic_publish("", "status", b"{}", forged)) == 403
    assert (
        _refused(
            subscriber,
            lambda c: c.basic_publish(events, f"{a.organisation_id}.command.completed", b"{}"),
        )
        == 403
    )
    assert _refused(subscriber, lambda c: c.queue_declare(f"{b.organisation_id}.events")) == 403

    # When A and B each publish good envelopes and every kind of refusal, interleaved
    runs = {a.organisation_id: _mixed_run(pg, a), b.organisation_id: _mixed_run(pg, b)}
    publisher_a, publisher_b = Publisher(a), Publisher(b)
    try:
        for of_a, of_b in zip(
            runs[a.organisation_id]["envelopes"], runs[b.organisation_id]["envelopes"], strict=True
        ):
            publisher_a.publish(*of_a)
            publisher_b.publish(*of_b)
    finally:
        publisher_a.close()
        publisher_b.close()
    # And everything has been consumed, carried out and published
    keys_a, keys_b = runs[a.organisation_id]["keys"], runs[b.organisation_id]["keys"]

    def settled() -> bool:
        with pg.transaction() as session:
            refusals = session.scalar(select(func.count()).select_from(CommandRefusal))
            open_commands = session.scalar(
                select(func.count())
                .select_from(CommandRecord)
                .where(CommandRecord.status == "accepted")
            )
            unpublished = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.published_at.is_(None))
            )
        return (refusals, open_commands, unpublished) == (12, 0, 0)

    wait_until(settled, timeout_s=60, what="every command done and every event published")
    with pg.transaction() as session:
        outbox = session.execute(
            select(
                OutboxMessage.id, OutboxMessage.organisation_id, OutboxMessage.destination
            ).where(OutboxMessage.kind == EVENT)
        ).all()
    expected = {str(row.id) for row in outbox if row.organisation_id == a.organisation_id}
    of_b = {str(row.id) for row in outbox if row.organisation_id == b.organisation_id}
    heard: dict[str, tuple[str, dict[str, Any]]] = {}

    def heard_everything() -> bool:
        while (delivery := channel.basic_get(queue, auto_ack=True))[0] is not None:
            method, properties, body = delivery
            heard[properties.message_id] = (method.routing_key, json.loads(body))
        return len(heard) >= len(expected)

    wait_until(heard_everything, what="A's subscriber to hear A's events")
    subscriber.close()

    # Then A's subscriber heard every event of A, each under A's key, and none of B's
    assert set(heard) == expected
    assert not set(heard) & of_b and of_b
    assert all(key.startswith(f"{a.organisation_id}.") for key, _ in heard.values())
    assert {event["organisation_id"] for _, event in heard.values()} == {str(a.organisation_id)}
    names = sorted(event["event"] for _, event in heard.values())
    assert names.count("command.refused") == 6
    assert {"command.completed", "application.status_changed"} <= set(names)
    # And each refusal was heard with its code, and found by key over A's API key
    refused = {
        event["idempotency_key"] or event["message_id"]: event
        for _, event in heard.values()
        if event["event"] == "command.refused"
    }
    expected_codes = {
        keys_a["invalid"]: "invalid_envelope",
        keys_a["unknown"]: "unknown_command_type",
        keys_a["register"]: "idempotency_key_reused",
        keys_a["bulk_invalid"]: "invalid_bulk",
        keys_a["derived"]: "idempotency_key_reused",
        runs[a.organisation_id]["garbage"]: "invalid_envelope",
    }
    assert {key: event["code"] for key, event in refused.items()} == expected_codes
    for key, expected_code in expected_codes.items():
        if key == runs[a.organisation_id]["garbage"]:
            continue  # no key could be read from it: heard with its message id only
        entries = _entries(api_url, a, key)
        refusal = entries[-1]
        assert (refusal["status"], refusal["code"]) == ("refused", expected_code), entries
        assert refusal["errors"] == refused[key]["errors"] and refusal["errors"]
        assert refusal["refusal_id"] == refused[key]["refusal_id"]
        assert _entries(api_url, b, key) == []  # B's API key never finds A's
    assert [e["field"] for e in _entries(api_url, a, keys_a["invalid"])[0]["errors"]] == [
        "command.applicant.email"
    ]
    # And a key reused with another body lists the first command, then the refusal
    for key in (keys_a["register"], keys_a["derived"]):
        assert [e["status"] for e in _entries(api_url, a, key)] == ["succeeded", "refused"]
    assert [e["status"] for e in _entries(api_url, a, keys_a["withdraw"])] == ["succeeded"]
    # And B finds its own refusals
    assert [e["code"] for e in _entries(api_url, b, keys_b["unknown"])] == ["unknown_command_type"]


def test_a_refusal_naming_what_postgresql_cannot_store_is_stored_not_retried(
    pg: Database,
) -> None:
    # Given an organisation, and an envelope with a NUL in a field name and an invalid key
    organisation = make_tenant(pg, amqp_user="hr-suite").organisation_id
    body = json.dumps(
        {"idempotency_key": "k-odd", "command": {"type": "save_application"}, "x\x00": 1}
    ).encode()
    ingress = CommandIngress(pg, queue=SETTINGS.ingress_queue, retention=timedelta(hours=48))
    # When the ingress handles it on PostgreSQL
    outcome = ingress.handle(body, "hr-suite", "m-odd")
    # Then it is dead-lettered with its refusal and event, not retried for ever
    assert outcome.verdict is Verdict.DEAD_LETTERED
    with pg.transaction() as session:
        refusal = session.scalars(select(CommandRefusal)).one()
        event = session.scalars(
            select(OutboxMessage).where(OutboxMessage.destination == "command.refused")
        ).one()
    assert refusal.organisation_id == event.organisation_id == organisation
    assert "x\ufffd" in {e["field"] for e in refusal.errors}
    assert event.payload["errors"] == refusal.errors
