"""Filling a worker's queue for a benchmark, with no worker consuming yet: commands
accepted as the API accepts them, scheduled jobs enqueued by the real scheduler, and the
outbox published by the real relay."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from datetime import timedelta

from bench._common import (
    EVENTS_EXCHANGE,
    PHASE_TIMEOUT_S,
    BenchError,
    queue_depth,
    rabbitmq_url,
    take_over_queue,
    wait_until,
)
from services.command_api.acceptance import accept_command
from shared.commands import AnyCommand
from shared.db.database import Database
from shared.messaging.broker import build_broker, declare_worker_queues
from shared.messaging.publishers import PipelinedPublisher
from shared.messaging.relay import Relay
from shared.messaging.scheduler import enqueue_due_jobs
from shared.settings import Settings

ACCEPT_PER_TRANSACTION = 500
ENQUEUE_LIMIT = 500
MAX_BATCHES = 1_000  # of 500 jobs or outbox rows: ample for any figure here


def accept_all(
    db: Database, organisation_id: uuid.UUID, commands: Iterable[tuple[str, AnyCommand]]
) -> list[uuid.UUID]:
    """Accept each ``(idempotency key, command)`` as the API would, 500 per transaction;
    the command ids, in order."""
    pending = list(commands)
    command_ids: list[uuid.UUID] = []
    for start in range(0, len(pending), ACCEPT_PER_TRANSACTION):
        with db.transaction() as session:
            for key, command in pending[start : start + ACCEPT_PER_TRANSACTION]:
                response = accept_command(
                    session,
                    organisation_id=organisation_id,
                    idempotency_key=key,
                    command=command,
                    source="http",
                    retention=timedelta(hours=48),
                )
                if response.status_code != 202:
                    raise BenchError(f"accept_command answered {response.status_code}")
                command_ids.append(uuid.UUID(response.body["command_id"]))
    return command_ids


def publish_due_jobs(url: str, n: int, queue: str) -> None:
    """Enqueue every due job (scheduler), then :func:`relay_to_queue`."""
    db = Database(url, pool_size=1)
    try:
        enqueued, deadline = 0, time.monotonic() + PHASE_TIMEOUT_S
        for _ in range(MAX_BATCHES):
            done = enqueue_due_jobs(db, limit=ENQUEUE_LIMIT)
            enqueued += done
            if done == 0 or time.monotonic() > deadline:
                break
    finally:
        db.dispose()
    if enqueued < n:
        raise BenchError(f"the scheduler enqueued {enqueued} of {n} {queue} jobs")
    relay_to_queue(url, n, queue)


def relay_to_queue(url: str, n: int, queue: str) -> None:
    """Declare ``queue`` as Dramatiq does, relay the whole outbox; returns once ``queue``
    holds ``n`` ready messages. Events go to the exchange, where nothing is bound."""
    take_over_queue(queue)
    broker = build_broker(Settings(database_url=url, broker_url=rabbitmq_url()))
    try:
        declare_worker_queues(broker, [queue])
    finally:
        broker.close()
    db = Database(url, pool_size=1)
    publisher = PipelinedPublisher(rabbitmq_url(), exchanges=[EVENTS_EXCHANGE])
    try:
        publisher.connect()
        relay = Relay(db, publisher, events_exchange=EVENTS_EXCHANGE)
        total, deadline = 0, time.monotonic() + PHASE_TIMEOUT_S
        for _ in range(MAX_BATCHES):
            published = relay.relay_batch()
            total += published
            if published == 0 or time.monotonic() > deadline:
                break
    finally:
        publisher.close()
        db.dispose()
    if total < n:
        raise BenchError(f"the relay published {total} messages for {n} {queue} tasks")
    wait_until(lambda: queue_depth(queue)[0] >= n, timeout_s=30, what=f"{n} {queue} tasks")
