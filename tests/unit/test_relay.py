"""The outbox relay, with the in-process broker as its publisher."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence

import dramatiq
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select
from structlog.testing import capture_logs

from shared.db.database import Database
from shared.db.models import OutboxMessage
from shared.db.types import utcnow
from shared.events import CommandCompleted
from shared.messaging.outbox import EVENT, publish_event
from shared.messaging.publishers import BrokerPublisher, Outgoing
from shared.messaging.relay import PgNotifyWaker, PollWaker, Relay, drain
from shared.statuses import CommandStatus
from tests.conftest import Tenant
from tests.factories import open_vacancy, register_body
from tests.processes import free_port
from tests.workflow import accept


class RefusingPublisher:
    """A publisher whose broker refuses every message (say, unroutable)."""

    def publish(self, messages: Sequence[Outgoing]) -> dict[uuid.UUID, str | None]:
        return {m.id: "unroutable: NO_ROUTE" for m in messages}

    def close(self) -> None:
        return None


def test_the_relay_hands_each_task_to_its_queue_with_the_outbox_id_as_message_id(
    db: Database, tenant: Tenant
) -> None:
    broker = StubBroker()
    broker.declare_queue("status")
    accepted = accept(
        db, tenant.organisation_id, register_body(open_vacancy(db, tenant.organisation_id))
    )
    relay = Relay(db, BrokerPublisher(broker), events_exchange="werving.events")

    assert drain(relay) == 1

    [message] = [dramatiq.Message.decode(m) for m in broker.queues["status"].queue]
    assert message.actor_name == "register_application"
    assert message.args[0]["command_id"] == accepted["command_id"]
    with db.transaction() as session:
        row = session.scalars(select(OutboxMessage)).one()
    assert row.published_at is not None
    assert message.message_id == str(row.id)
    assert drain(relay) == 0  # nothing is published twice


def test_a_refused_message_stays_in_the_outbox_with_its_reason(
    db: Database, tenant: Tenant
) -> None:
    accept(db, tenant.organisation_id, register_body(open_vacancy(db, tenant.organisation_id)))
    relay = Relay(db, RefusingPublisher(), events_exchange="werving.events")

    assert relay.relay_batch() == 0

    with db.transaction() as session:
        row = session.scalars(select(OutboxMessage)).one()
    assert row.published_at is None
    assert (row.attempts, row.last_error) == (1, "unroutable: NO_ROUTE")


class Recording:
    """A publisher that keeps what the relay hands it, as a broker would."""

    def __init__(self) -> None:
        self.messages: list[Outgoing] = []

    def publish(self, messages: Sequence[Outgoing]) -> dict[uuid.UUID, str | None]:
        self.messages.extend(messages)
        return {m.id: None for m in messages}

    def close(self) -> None:
        return None


def test_every_event_is_published_under_its_organisations_routing_key(db: Database) -> None:
    # Given an event written now, and a row as werving wrote them before keys named
    # the organisation (its destination is the bare event name either way)
    first, second = uuid.uuid4(), uuid.uuid4()
    event = CommandCompleted(
        occurred_at=utcnow(),
        organisation_id=first,
        command_id=uuid.uuid4(),
        idempotency_key="k-1",
        command_type="withdraw_application",
        status=CommandStatus.SUCCEEDED,
    )
    with db.transaction() as session:
        publish_event(session, event)
        session.add(
            OutboxMessage(
                organisation_id=second,
                kind=EVENT,
                destination="application.status_changed",
                payload={"organisation_id": str(second)},
            )
        )
    publisher = Recording()
    # When the relay publishes them
    assert drain(Relay(db, publisher, events_exchange="werving.events")) == 2
    # Then each goes to the events exchange under <organisation id>.<event name>
    assert sorted((m.exchange, m.routing_key) for m in publisher.messages) == sorted(
        [
            ("werving.events", f"{first}.command.completed"),
            ("werving.events", f"{second}.application.status_changed"),
        ]
    )


def test_an_event_without_an_organisation_is_never_published(db: Database) -> None:
    # Given an event row that names no organisation (werving writes none)
    with db.transaction() as session:
        session.add(OutboxMessage(kind=EVENT, destination="command.completed", payload={}))
    publisher = Recording()
    # When the relay claims it
    assert Relay(db, publisher, events_exchange="werving.events").relay_batch() == 0
    # Then nothing reaches the broker, and the row stays unpublished with the reason
    assert publisher.messages == []
    with db.transaction() as session:
        row = session.scalars(select(OutboxMessage)).one()
    assert (row.published_at, row.attempts) == (None, 1)
    assert row.last_error == "an event without an organisation is never published"


def test_the_notify_waker_waits_out_a_database_it_cannot_reach() -> None:
    # Given a waker whose database is away (nothing listens on its port)
    waker = PgNotifyWaker(f"postgresql://werving@127.0.0.1:{free_port()}/werving")
    with capture_logs() as logs:
        # When the relay waits on it, again and again
        started = time.monotonic()
        for _ in range(5):
            waker.wait(0.1)
        took = time.monotonic() - started
    waker.close()
    # Then it never raised: it slept like a poll, and said so once
    assert 0.5 <= took < 5
    unavailable = [e for e in logs if e["event"] == "dependency.unavailable"]
    assert [(e["dependency"], e["loop"]) for e in unavailable] == [("database", "relay listener")]


def test_a_relay_whose_database_is_away_keeps_trying_and_says_so_once() -> None:
    # Given a relay on a database that is not there
    away = Database(f"postgresql://werving@127.0.0.1:{free_port()}/werving", pool_size=1)
    relay = Relay(away, BrokerPublisher(StubBroker()), events_exchange="werving.events")
    stop = threading.Event()
    with capture_logs() as logs:
        thread = threading.Thread(target=relay.run, args=(stop, PollWaker()))
        thread.start()
        # When it has tried for a while (its pauses grow: 0.5 s, 1 s, ...)
        time.sleep(2)
        alive = thread.is_alive()
        stop.set()
        thread.join(timeout=15)
    away.dispose()
    # Then it was still running, and logged the outage once, not once per try
    assert alive and not thread.is_alive()
    unavailable = [e for e in logs if e["event"] == "dependency.unavailable"]
    assert [(e["dependency"], e["loop"]) for e in unavailable] == [("database", "relay")]
