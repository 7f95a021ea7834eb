"""The outbox relay, with the in-process broker as its publisher."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import dramatiq
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select

from shared.db.database import Database
from shared.db.models import OutboxMessage
from shared.messaging.publishers import BrokerPublisher, Outgoing
from shared.messaging.relay import Relay, drain
from tests.conftest import Tenant
from tests.factories import open_vacancy, register_body
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
