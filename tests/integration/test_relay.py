"""The relay on PostgreSQL and RabbitMQ: pipelined confirms, several copies, NOTIFY wake-ups."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator

import pika
import psycopg
import pytest
from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import func, select

from shared.db.database import Database
from shared.db.models import OutboxMessage
from shared.db.types import utcnow
from shared.errors import RefusalCode
from shared.events import CommandCompleted
from shared.ids import new_id
from shared.messaging.outbox import EVENT, publish_event
from shared.messaging.publishers import PipelinedPublisher
from shared.messaging.relay import PgNotifyWaker, Relay, drain
from shared.settings import Settings
from shared.statuses import CommandStatus
from tests.processes import wait_until

pytestmark = pytest.mark.integration

EXCHANGE = Settings().events_exchange


Subscriber = tuple[BlockingChannel, str]


@pytest.fixture
def subscriber(amqp: str) -> Iterator[Subscriber]:
    """A queue bound to the events exchange, as an upstream subscriber would have."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp))
    channel = connection.channel()
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    queue = f"test-subscriber-{uuid.uuid4().hex[:8]}"
    channel.queue_declare(queue, exclusive=True)
    channel.queue_bind(queue, EXCHANGE, routing_key="*.test.#")
    yield channel, queue
    connection.close()


def _insert_events(db: Database, count: int) -> set[str]:
    ids = [uuid.uuid4() for _ in range(count)]
    with db.transaction() as session:
        session.add_all(
            OutboxMessage(
                id=i,
                organisation_id=new_id(),
                kind=EVENT,
                destination="test.event",
                payload={"n": n},
            )
            for n, i in enumerate(ids)
        )
    return {str(i) for i in ids}


def _received(channel: BlockingChannel, queue: str) -> list[str]:
    ids: list[str] = []
    while True:
        method, properties, _body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return ids
        ids.append(properties.message_id)


def test_two_relays_publish_every_row_exactly_once(
    pg: Database, amqp: str, subscriber: Subscriber
) -> None:
    # Given 2,000 unpublished events and two relays running side by side
    channel, queue = subscriber
    expected = _insert_events(pg, 2_000)
    publishers = [PipelinedPublisher(amqp, exchanges=[EXCHANGE]) for _ in range(2)]
    for publisher in publishers:
        publisher.connect()
    relays = [Relay(pg, p, events_exchange=EXCHANGE, batch_size=100) for p in publishers]
    counts: list[int] = []
    # When both drain the outbox at once
    threads = [threading.Thread(target=lambda r=r: counts.append(drain(r))) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for publisher in publishers:
        publisher.close()
    # Then every row was published once, by one relay or the other
    time.sleep(0.5)
    received = _received(channel, queue)
    assert sorted(received) == sorted(expected)
    assert sum(counts) == 2_000
    with pg.transaction() as session:
        assert not session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.published_at.is_(None))
        )


def test_the_relay_wakes_on_notify_rather_than_waiting_for_its_poll(
    pg: Database, amqp: str, postgres_url: str, subscriber: Subscriber
) -> None:
    # Given a relay that would otherwise poll only once a minute
    channel, queue = subscriber
    publisher = PipelinedPublisher(amqp, exchanges=[EXCHANGE])
    publisher.connect()
    waker = PgNotifyWaker(postgres_url)
    stop = threading.Event()
    relay = Relay(pg, publisher, events_exchange=EXCHANGE)
    thread = threading.Thread(target=relay.run, args=(stop, waker), kwargs={"poll_interval_s": 60})
    thread.start()
    try:
        time.sleep(0.5)  # let it go idle
        # When a row is committed
        expected = _insert_events(pg, 1)
        # Then it is published within seconds, long before the next poll
        got: list[str] = []

        def arrived() -> bool:
            got.extend(_received(channel, queue))
            return bool(got)

        wait_until(arrived, timeout_s=10, what="the event")
        assert got == list(expected)
    finally:
        stop.set()
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute("NOTIFY werving_outbox")  # wake it to see the stop
        thread.join(timeout=10)
        waker.close()
        publisher.close()


def test_an_event_reaches_subscribers_as_the_json_of_its_model(
    pg: Database, amqp: str, subscriber: Subscriber
) -> None:
    # Given an event published in a transaction (its payload serialized by pydantic)
    channel, queue = subscriber
    organisation_id = new_id()
    channel.queue_bind(queue, EXCHANGE, routing_key=f"{organisation_id}.{CommandCompleted.name}")
    event = CommandCompleted(
        occurred_at=utcnow(),
        organisation_id=organisation_id,
        command_id=new_id(),
        idempotency_key="key-1",
        command_type="withdraw_application",
        status=CommandStatus.REJECTED,
        code=RefusalCode.INVALID_TRANSITION,
        message="withdraw_application is not allowed from 'hired' — «ü»",
        application_id=None,
    )
    with pg.transaction() as session:
        publish_event(session, event)
    # When the relay publishes it
    publisher = PipelinedPublisher(amqp, exchanges=[EXCHANGE])
    publisher.connect()
    try:
        drain(Relay(pg, publisher, events_exchange=EXCHANGE))
    finally:
        publisher.close()
    # Then the message body is the event as pydantic's JSON mode has it
    method, _properties, body = channel.basic_get(queue, auto_ack=True)
    assert method is not None
    assert json.loads(body) == event.model_dump(mode="json")
    # Under its organisation's routing key
    assert method.routing_key == f"{organisation_id}.command.completed"
