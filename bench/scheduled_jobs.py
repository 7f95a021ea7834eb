"""Queueing scheduled jobs for a worker benchmark: the real scheduler, then the real relay,
with no worker consuming yet."""

from __future__ import annotations

import time

from bench._common import (
    EVENTS_EXCHANGE,
    PHASE_TIMEOUT_S,
    BenchError,
    queue_depth,
    rabbitmq_url,
    take_over_queue,
    wait_until,
)
from shared.db.database import Database
from shared.messaging.broker import build_broker, declare_worker_queues
from shared.messaging.publishers import PipelinedPublisher
from shared.messaging.relay import Relay
from shared.messaging.scheduler import enqueue_due_jobs
from shared.settings import Settings

ENQUEUE_LIMIT = 500
MAX_BATCHES = 1_000  # of 500 jobs or outbox rows: ample for any figure here


def publish_due_jobs(url: str, n: int, queue: str) -> None:
    """Enqueue every due job (scheduler), declare ``queue`` as Dramatiq does, relay it all;
    returns once ``queue`` holds ``n`` ready messages."""
    take_over_queue(queue)
    broker = build_broker(Settings(database_url=url, broker_url=rabbitmq_url()))
    try:
        declare_worker_queues(broker, [queue])
    finally:
        broker.close()
    db = Database(url, pool_size=1)
    publisher = PipelinedPublisher(rabbitmq_url(), exchanges=[EVENTS_EXCHANGE])
    try:
        enqueued, deadline = 0, time.monotonic() + PHASE_TIMEOUT_S
        for _ in range(MAX_BATCHES):
            done = enqueue_due_jobs(db, limit=ENQUEUE_LIMIT)
            enqueued += done
            if done == 0 or time.monotonic() > deadline:
                break
        if enqueued < n:
            raise BenchError(f"the scheduler enqueued {enqueued} of {n} {queue} jobs")
        publisher.connect()
        relay = Relay(db, publisher, events_exchange=EVENTS_EXCHANGE)
        total = 0
        for _ in range(MAX_BATCHES):
            published = relay.relay_batch()
            total += published
            if published == 0 or time.monotonic() > deadline:
                break
    finally:
        publisher.close()
        db.dispose()
    if total < n:
        raise BenchError(f"the relay published {total} messages for {n} {queue} jobs")
    wait_until(lambda: queue_depth(queue)[0] >= n, timeout_s=30, what=f"{n} {queue} tasks")
