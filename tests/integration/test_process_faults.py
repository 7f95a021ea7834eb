"""Every long-running process survives the loss of its connections and carries on.

The whole system runs as real processes (API, relay, scheduler, ingress, the three
workers). Each test sends one of each kind of work through it (a command over HTTP with
its receipt email, a command over AMQP, a contract rendered to PDF and emailed), then
injects a fault into the test's own database or virtual host, then sends the same work
again: all of it must complete, no process may have exited, and no message may have
become a dead letter.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pika
import pytest
from sqlalchemy import func, select

from shared.db.database import Database
from shared.db.models import Applicant, Application, CommandRecord, DeadLetter, OutboxMessage
from shared.messaging.outbox import EVENT
from shared.settings import Settings
from shared.statuses import ApplicationStatus
from tests.conftest import Tenant, make_tenant
from tests.factories import new_key, register_body
from tests.faults import (
    backends,
    broker_away,
    close_connections,
    database_away,
    terminate_backends,
)
from tests.processes import run_over_http, running, wait_until, werving
from tests.seeds import Reference, seed_application, seed_reference
from tests.smtp_sinks import Sink
from tests.system import System, running_system

pytestmark = pytest.mark.integration

AMQP_USER = "guest"  # the login RabbitMQ checks an envelope's user_id against


@dataclass(frozen=True)
class Organisation:
    tenant: Tenant
    ref: Reference


@pytest.fixture
def system(env: dict[str, str], sink: tuple[Sink, int], tmp_path: Path) -> Iterator[System]:
    system_env = {
        **env,
        "WERVING_SMTP_PORT": str(sink[1]),
        "WERVING_DOCUMENTS_DIR": str(tmp_path / "documents"),
    }
    with running_system(system_env, tmp_path) as running:
        yield running


@pytest.fixture
def organisation(pg: Database) -> Organisation:
    tenant = make_tenant(pg, name="Zorggroep Noord", amqp_user=AMQP_USER)
    return Organisation(tenant, seed_reference(pg, tenant.organisation_id))


def _publish_envelope(amqp: str, key: str, command: dict[str, Any]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            Settings().ingress_exchange,
            "",
            json.dumps({"idempotency_key": key, "command": command}).encode(),
            pika.BasicProperties(delivery_mode=2, user_id=AMQP_USER),
        )
    finally:
        connection.close()


def _status(pg: Database, key: str) -> str | None:
    with pg.transaction() as session:
        return session.scalar(
            select(CommandRecord.status).where(CommandRecord.idempotency_key == key)
        )


def _recipients(sink: Sink) -> set[str]:
    return {address for _sender, to in sink.envelopes for address in to}


def _applicant_email(pg: Database, application_id: uuid.UUID) -> str:
    with pg.transaction() as session:
        return str(
            session.scalar(
                select(Applicant.email)
                .join(Application, Application.applicant_id == Applicant.id)
                .where(Application.id == application_id)
            )
        )


def _exercise(system: System, pg: Database, amqp: str, org: Organisation, sink: Sink) -> float:
    """One of each kind of work through every process; how long it took to complete."""
    started = time.monotonic()
    headers = org.tenant.headers
    # HTTP -> relay -> status_worker, and its receipt: scheduler -> relay -> mail_worker
    receipt_to = f"receipt-{uuid.uuid4().hex[:8]}@example.org"
    applicant = {"name": "Ann de Vries", "email": receipt_to}
    body = register_body(org.ref.vacancy_id, send_receipt=True, applicant=applicant)
    run_over_http(system.api_url, headers, body)
    # AMQP -> ingress -> relay -> status_worker
    key = f"amqp-{uuid.uuid4()}"
    _publish_envelope(amqp, key, register_body(org.ref.vacancy_id))
    wait_until(lambda: _status(pg, key) == "succeeded", timeout_s=60, what="the AMQP command")
    # A contract: status_worker -> scheduler -> document_worker -> scheduler -> mail_worker
    offered = seed_application(
        pg, org.tenant.organisation_id, org.ref.vacancy_id, ApplicationStatus.OFFERED
    )
    contract: dict[str, object] = {
        "type": "send_employment_contract",
        "application_id": str(offered),
        "job_title": "Verpleegkundige",
        "salary": {"amount": "3400", "currency": "EUR", "period": "month"},
        "hours_per_week": "36",
        "start_date": "2027-04-01",
        "place_of_work": "Groningen",
    }
    run_over_http(system.api_url, headers, contract)
    contract_to = _applicant_email(pg, offered)
    wait_until(
        lambda: {receipt_to, contract_to} <= _recipients(sink),
        timeout_s=120,
        what="the receipt and the contract at the SMTP server",
    )
    return time.monotonic() - started


def _no_harm_done(system: System, pg: Database) -> None:
    """No process exited; nothing became a dead letter; every command succeeded."""
    assert system.exited() == {}
    with pg.transaction() as session:
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 0
        assert set(session.scalars(select(CommandRecord.status))) == {"succeeded"}


def _log_events(system: System, name: str, event: str) -> list[dict[str, Any]]:
    lines = system.log(name).read_text(errors="replace").splitlines()
    parsed = [json.loads(line) for line in lines if line.startswith("{")]
    return [entry for entry in parsed if entry.get("event") == event]


def _report(fault: str, before: float, after: float) -> None:
    print(  # noqa: T201 - figures, not assertions
        f"\n{fault}: the work took {before:.1f} s before, {after:.1f} s right after"
    )


def _insert_events(pg: Database, organisation_id: uuid.UUID, count: int) -> set[uuid.UUID]:
    ids = {uuid.uuid4() for _ in range(count)}
    with pg.transaction() as session:
        session.add_all(
            OutboxMessage(
                id=i,
                organisation_id=organisation_id,
                kind=EVENT,
                destination="test.event",
                payload={"n": 1},
            )
            for i in ids
        )
    return ids


def _published(pg: Database, ids: set[uuid.UUID]) -> bool:
    with pg.transaction() as session:
        return not session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.published_at.is_(None))
        )


LISTENING = "LISTEN werving_outbox%"


def test_the_relay_survives_its_listen_connection_being_terminated(
    pg: Database, env: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    # Given a relay that listens for NOTIFY on a connection of its own
    log = tmp_path / "relay.log"
    with running(werving("relay"), env=env, log_path=log) as relay:
        wait_until(lambda: bool(backends(postgres_url, query=LISTENING)), what="its LISTEN")
        [first] = backends(postgres_url, query=LISTENING)
        organisation_id = make_tenant(pg).organisation_id
        # When PostgreSQL ends that connection (as a restart, a failover or an idle
        # timeout would)
        assert terminate_backends(postgres_url, query=LISTENING) == 1
        time.sleep(1.5)  # it used to exit within a second
        # Then the relay still runs and publishes what is written after
        assert relay.poll() is None, log.read_text()[-3000:]
        ids = _insert_events(pg, organisation_id, 3)
        wait_until(lambda: _published(pg, ids), timeout_s=30, what="the events to be published")
        # And it listens again, on a new connection
        wait_until(
            lambda: set(backends(postgres_url, query=LISTENING)) - {first} != set(),
            what="a new LISTEN",
        )


def test_every_process_carries_on_after_its_database_connections_are_terminated(
    system: System,
    pg: Database,
    amqp: str,
    postgres_url: str,
    organisation: Organisation,
    sink: tuple[Sink, int],
) -> None:
    # Given the system, each process holding its connections after some work
    before = _exercise(system, pg, amqp, organisation, sink[0])
    # When PostgreSQL ends every connection of the test database
    ended = terminate_backends(postgres_url)
    # Then the same work goes through again, and no harm is done
    after = _exercise(system, pg, amqp, organisation, sink[0])
    _no_harm_done(system, pg)
    _report(f"{ended} PostgreSQL connections ended", before, after)


def test_every_process_carries_on_after_its_broker_connections_are_closed(
    system: System,
    pg: Database,
    amqp: str,
    organisation: Organisation,
    sink: tuple[Sink, int],
) -> None:
    before = _exercise(system, pg, amqp, organisation, sink[0])

    close_connections(amqp)

    after = _exercise(system, pg, amqp, organisation, sink[0])
    _no_harm_done(system, pg)
    _report("RabbitMQ connections closed", before, after)


OUTAGE_S = 8


def test_every_process_waits_out_a_database_and_a_broker_that_went_away_for_a_while(
    system: System,
    pg: Database,
    amqp: str,
    postgres_url: str,
    organisation: Organisation,
    sink: tuple[Sink, int],
) -> None:
    before = _exercise(system, pg, amqp, organisation, sink[0])
    headers = {**organisation.tenant.headers, "Idempotency-Key": new_key()}
    body = register_body(organisation.ref.vacancy_id)
    # When the database goes away for a while, the API asks its clients to come back
    with database_away(postgres_url):
        time.sleep(OUTAGE_S)
        refused = httpx.post(f"{system.api_url}/v1/commands", json=body, headers=headers)
    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"]
    # and when the broker goes away, commands are still accepted (the outbox keeps them)
    with broker_away(amqp):
        accepted = httpx.post(f"{system.api_url}/v1/commands", json=body, headers=headers)
        time.sleep(OUTAGE_S)
    assert accepted.status_code == 202, accepted.text
    # Then the command accepted meanwhile completes, the work goes through again
    location = system.api_url + accepted.json()["location"]
    wait_until(
        lambda: httpx.get(location, headers=headers).json()["status"] == "succeeded",
        timeout_s=60,
        what="the command accepted while the broker was away",
    )
    after = _exercise(system, pg, amqp, organisation, sink[0])
    _no_harm_done(system, pg)
    _report(f"database, then broker, away for {OUTAGE_S} s each", before, after)
    # And each loop said once that its database was away, and once that it was back
    for name, loop in (("relay", "relay"), ("scheduler", "scheduler")):
        lost = _log_events(system, name, "dependency.unavailable")
        back = _log_events(system, name, "dependency.restored")
        assert [e["dependency"] for e in lost if e["loop"] == loop].count("database") == 1
        assert [e["dependency"] for e in back if e["loop"] == loop].count("database") == 1
