"""werving's consumer (shared.messaging.consumer) on a real RabbitMQ: acknowledgements sent in
batches, rejections dead-lettered, deliveries no actor may run refused."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import dramatiq
import pika
import pytest
from dramatiq import Message, Worker
from dramatiq.common import dq_name, xq_name

from shared.errors import PermanentError
from shared.messaging.broker import build_broker
from shared.messaging.consumer import ScreeningConsumer, WervingRabbitmqBroker
from shared.messaging.middleware import DeadLetterRecorder
from shared.messaging.screening import Refusal
from shared.settings import Settings
from tests.processes import wait_until


@pytest.fixture
def broker(rabbitmq_url: str) -> Iterator[WervingRabbitmqBroker]:
    built = build_broker(Settings(broker_url=rabbitmq_url))
    assert isinstance(built, WervingRabbitmqBroker)
    yield built
    built.close()


runs: Counter[int] = Counter()
run_lock = threading.Lock()


@pytest.fixture
def queue(broker: WervingRabbitmqBroker) -> Iterator[str]:
    name = f"test_acks_{uuid.uuid4().hex[:8]}"
    broker.declare_queue(name, ensure=True)
    runs.clear()

    # The consumer hands over only messages for an actor of its queue.
    @dramatiq.actor(
        broker=broker,
        queue_name=name,
        actor_name="count",
        max_retries=0,
        throws=(PermanentError,),
    )
    def count(i: int) -> None:
        with run_lock:
            runs[i] += 1
        time.sleep(random.uniform(0, 0.02))  # finish out of delivery order
        if i % 17 == 0:
            raise PermanentError(f"message {i} fails")

    yield name
    channel = broker.channel
    for queue_name in (name, dq_name(name), xq_name(name)):
        channel.queue_delete(queue_name)


def _message(queue: str, i: int) -> Message[Any]:
    return Message(queue_name=queue, actor_name="count", args=(i,), kwargs={}, options={})


def _take(consumer: ScreeningConsumer, n: int) -> list[Any]:
    taken: list[Any] = []
    deadline = time.monotonic() + 10
    while len(taken) < n and time.monotonic() < deadline:
        message = next(consumer)
        if message is not None:
            taken.append(message)
    assert len(taken) == n, f"{len(taken)} of {n} messages delivered"
    return taken


def _drain(url: str, queue: str, wait_for: int, timeout_s: float = 10.0) -> list[bytes]:
    """The bodies left in ``queue``: at least ``wait_for`` (waiting for requeued ones),
    then whatever else is there."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    bodies: list[bytes] = []
    try:
        channel = connection.channel()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            method, _, body = channel.basic_get(queue, auto_ack=True)
            if method is not None:
                bodies.append(body)
            elif len(bodies) >= wait_for:
                break
            else:
                time.sleep(0.05)
    finally:
        connection.close()
    return bodies


def _ack_from_a_worker_thread(consumer: ScreeningConsumer, messages: list[Any]) -> None:
    def acknowledge() -> None:
        for message in messages:
            consumer.ack(message)

    acking = threading.Thread(target=acknowledge)
    acking.start()
    acking.join()


def test_acknowledgements_reach_rabbitmq_while_the_consumer_runs(
    broker: WervingRabbitmqBroker, queue: str
) -> None:
    for i in range(4):
        broker.enqueue(_message(queue, i))
    consumer = broker.consume(queue, prefetch=2, timeout=100)
    assert isinstance(consumer, ScreeningConsumer)
    first = _take(consumer, 2)
    _ack_from_a_worker_thread(consumer, first)

    # RabbitMQ sends more only once the acknowledgements have freed the prefetch window.
    then = _take(consumer, 2)

    assert [m.args[0] for m in first + then] == [0, 1, 2, 3]
    _ack_from_a_worker_thread(consumer, then)
    consumer.close()


def test_a_few_acknowledgements_go_out_when_the_consumer_thread_is_back_from_the_socket(
    broker: WervingRabbitmqBroker, queue: str
) -> None:
    for i in range(9):
        broker.enqueue(_message(queue, i))
    # A window of 8: a flush wakes the consumer thread from 2 notes on.
    consumer = broker.consume(queue, prefetch=8, timeout=100)
    assert isinstance(consumer, ScreeningConsumer)
    window = _take(consumer, 8)
    _ack_from_a_worker_thread(consumer, window[:1])

    # No wake-up for one note: the consumer thread flushes it when its wait for the full
    # window times out, and RabbitMQ then sends the ninth.
    ninth = _take(consumer, 1)

    assert [m.args[0] for m in ninth] == [8]
    _ack_from_a_worker_thread(consumer, window[1:] + ninth)
    consumer.close()


def test_closing_the_consumer_sends_what_is_noted(
    broker: WervingRabbitmqBroker, queue: str, rabbitmq_url: str
) -> None:
    for i in range(2):
        broker.enqueue(_message(queue, i))
    consumer = broker.consume(queue, prefetch=8, timeout=100)
    assert isinstance(consumer, ScreeningConsumer)
    done, in_progress = _take(consumer, 2)
    _ack_from_a_worker_thread(consumer, [done])  # one note: below the wake-up size

    consumer.close()

    left = _drain(rabbitmq_url, queue, wait_for=1)
    assert [Message.decode(body).message_id for body in left] == [in_progress.message_id]


def test_a_message_in_progress_holds_back_only_its_own_acknowledgement(
    broker: WervingRabbitmqBroker, queue: str, rabbitmq_url: str
) -> None:
    sent = [broker.enqueue(_message(queue, i)) for i in range(5)]
    consumer = broker.consume(queue, prefetch=10, timeout=100)
    assert isinstance(consumer, ScreeningConsumer)
    slow, *done = _take(consumer, 5)

    # Acknowledged from another thread, as Dramatiq's worker threads do; the first
    # delivery is still in progress.
    _ack_from_a_worker_thread(consumer, done[::-1])
    # Closing runs the pending flush; RabbitMQ then requeues what is unacknowledged.
    consumer.close()

    left = _drain(rabbitmq_url, queue, wait_for=1)

    assert [Message.decode(body).message_id for body in left] == [slow.message_id]
    assert slow.message_id == sent[0].message_id


def test_a_rejection_among_acknowledgements_is_dead_lettered_and_the_rest_acknowledged(
    broker: WervingRabbitmqBroker, queue: str, rabbitmq_url: str
) -> None:
    for i in range(5):
        broker.enqueue(_message(queue, i))
    consumer = broker.consume(queue, prefetch=10, timeout=100)
    assert isinstance(consumer, ScreeningConsumer)
    first, second, rejected, fourth, fifth = _take(consumer, 5)

    def settle() -> None:  # all noted before the consumer thread flushes (at close)
        consumer.ack(first)
        consumer.nack(rejected)
        for message in (fifth, fourth, second):
            consumer.ack(message)

    settling = threading.Thread(target=settle)
    settling.start()
    settling.join()
    consumer.close()

    # A multiple ack sent before the rejection would have covered it; RabbitMQ would
    # then have refused the nack, closed the channel and requeued the lot.
    assert _drain(rabbitmq_url, queue, wait_for=0, timeout_s=1) == []
    dead = _drain(rabbitmq_url, xq_name(queue), wait_for=1)
    assert [Message.decode(body).message_id for body in dead] == [rejected.message_id]


def test_out_of_order_failed_and_refused_messages_are_each_settled_once(
    broker: WervingRabbitmqBroker, queue: str, rabbitmq_url: str
) -> None:
    dead_lettered: list[int] = []
    refused: list[tuple[bytes, Refusal]] = []
    for middleware in broker.middleware:
        if isinstance(middleware, DeadLetterRecorder):
            middleware.register(queue, lambda m, _e: dead_lettered.append(m.args[0]))
    broker.on_refusal(queue, lambda _q, body, refusal: refused.append((body, refusal)))
    n = 300
    for i in range(n):
        broker.enqueue(_message(queue, i))
        if i == n // 2:  # a delivery that does not decode: refused by the consumer
            broker.channel.basic_publish(exchange="", routing_key=queue, body=b"not json")
    worker = Worker(broker, worker_threads=4, worker_timeout=100)
    worker.start()
    try:
        wait_until(lambda: sum(runs.values()) >= n, timeout_s=60, what="every message run")
        worker.join()  # every message processed and settled
    finally:
        worker.stop()
    failing = [i for i in range(n) if i % 17 == 0]

    # No message ran twice: a wrong tag or a second ack of one would have closed the
    # channel, and RabbitMQ would have delivered the unacknowledged ones again.
    assert runs == Counter(range(n))
    assert sorted(dead_lettered) == failing
    # The refused delivery is stored with its reason and acknowledged, not dead-lettered.
    assert [(body, r.reason.split(":")[0]) for body, r in refused] == [
        (b"not json", "not a Dramatiq message")
    ]
    assert _drain(rabbitmq_url, queue, wait_for=0, timeout_s=1) == []
    rejected = _drain(rabbitmq_url, xq_name(queue), wait_for=len(failing))
    assert sorted(Message.decode(b).args[0] for b in rejected) == failing


def test_a_refused_delivery_whose_dead_letter_cannot_be_stored_goes_to_the_xq(
    broker: WervingRabbitmqBroker, queue: str, rabbitmq_url: str
) -> None:
    # Given a queue whose dead letters cannot be stored (the database is down)
    def unavailable(_queue: str, _body: bytes, _refusal: Refusal) -> None:
        raise ConnectionError("database unavailable")

    broker.on_refusal(queue, unavailable)
    broker.channel.basic_publish(exchange="", routing_key=queue, body=b"not json")
    broker.enqueue(_message(queue, 1))
    consumer = broker.consume(queue, prefetch=10, timeout=100)
    assert isinstance(consumer, ScreeningConsumer)
    # When the consumer refuses it and hands over the good message behind it
    [good] = _take(consumer, 1)
    _ack_from_a_worker_thread(consumer, [good])
    consumer.close()
    # Then the refused one is in Dramatiq's dead-letter queue, neither lost nor requeued
    assert _drain(rabbitmq_url, queue, wait_for=0, timeout_s=1) == []
    assert _drain(rabbitmq_url, xq_name(queue), wait_for=1) == [b"not json"]


def test_a_message_from_a_lost_connection_never_acknowledges_a_delivery_of_the_new_one(
    broker: WervingRabbitmqBroker, queue: str, rabbitmq_url: str
) -> None:
    # Given a message in progress when the consumer's connection was lost (RabbitMQ puts
    # it back), and the new consumer Dramatiq opened, which got it again
    sent = broker.enqueue(_message(queue, 1))
    lost = broker.consume(queue, prefetch=1, timeout=100)
    assert isinstance(lost, ScreeningConsumer)
    [stale] = _take(lost, 1)
    lost.connection.close()
    current = broker.consume(queue, prefetch=1, timeout=100)
    assert isinstance(current, ScreeningConsumer)
    [again] = _take(current, 1)
    assert again.redelivered and again.delivery_tag == stale.delivery_tag  # tags start at 1
    # When the first worker thread finishes with its copy (Dramatiq settles it through the
    # consumer it has now)
    _ack_from_a_worker_thread(current, [stale])
    # Then nothing is acknowledged: the copy in progress is still RabbitMQ's to redeliver,
    # should this worker die before it is done
    current.close()
    left = _drain(rabbitmq_url, queue, wait_for=1)
    assert [Message.decode(body).message_id for body in left] == [sent.message_id]
