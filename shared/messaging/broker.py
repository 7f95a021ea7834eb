"""Dramatiq broker set-up: RabbitMQ with confirms in production, in-process for embedded mode."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any, Final

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, Retries, TimeLimit

from shared.db.availability import retried_while_unavailable
from shared.db.database import Database
from shared.errors import PermanentError
from shared.logging import configure_logging
from shared.messaging.consumer import (
    RefusalRecorder,
    WervingRabbitmqBroker,
    allow_any_amqp_headers,
)
from shared.messaging.dead_letters import record_dead_letter
from shared.messaging.delivery_attempts import DeliveryAttempts
from shared.messaging.limits import MAX_BACKOFF_MS, TIME_LIMIT_MS
from shared.messaging.middleware import (
    DeadLetterRecorder,
    DeliveryLimit,
    FailureRecorder,
    LogContext,
)
from shared.messaging.retries import MAX_RETRIES, MIN_BACKOFF_MS, retry_when
from shared.messaging.screening import Refusal
from shared.settings import Settings

ACTOR_OPTIONS: Final[dict[str, Any]] = {
    "max_retries": MAX_RETRIES,
    # Decides instead of max_retries: longer while a dependency is away (retries.py).
    "retry_when": retry_when,
    "min_backoff": MIN_BACKOFF_MS,
    "max_backoff": MAX_BACKOFF_MS,
    "time_limit": TIME_LIMIT_MS,
    "throws": (PermanentError,),
}


def build_broker(settings: Settings) -> dramatiq.Broker:
    """Build (without connecting) the broker the settings name, with werving's middleware."""
    # Dramatiq runs "before" hooks in this order and "after" hooks in reverse: the
    # log context is bound first and cleared last, and the dead-letter recorder
    # sees a message after Retries has decided whether it failed. The delivery limit
    # refuses a message last, after every "before" hook ran, so that every "after" hook
    # sees it failed. Of Dramatiq's defaults, only what werving's actors use is kept
    # (time limits, retries): every message would pay for the hooks of the others.
    # werving chains work through its own outbox, never through actor callbacks or
    # pipelines; no message or actor sets a max_age (AgeLimit) or asks for
    # notify_shutdown (ShutdownNotifications).
    middleware: list[Middleware] = [
        LogContext(),
        DeadLetterRecorder(),
        TimeLimit(),
        Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS),
        DeliveryLimit(),
    ]
    broker: dramatiq.Broker
    if settings.uses_stub_broker:
        broker = StubBroker(middleware=middleware)
    else:
        broker = WervingRabbitmqBroker(
            url=settings.broker_url,
            confirm_delivery=True,
            middleware=middleware,
        )
    return broker


def declare_worker_queues(broker: dramatiq.Broker, queues: Iterable[str]) -> None:
    """Create the queues (with their ``.DQ`` and ``.XQ``) with Dramatiq's own arguments,
    so that a publisher and a worker never disagree on them."""
    for queue in queues:
        if isinstance(broker, RabbitmqBroker):
            broker.declare_queue(queue, ensure=True)
        else:
            broker.declare_queue(queue)


_process_broker: dramatiq.Broker | None = None


def boot_worker(
    settings: Settings,
    queue: str,
    *,
    db: Database | None = None,
    on_failure: FailureRecorder | None = None,
) -> dramatiq.Broker:
    """Set up a worker process once: logging, then the global broker its actors bind to.

    With ``db``, the queue's deliveries that no actor may run are stored as dead letters
    there, and its redelivered messages counted against the delivery limit; with
    ``on_failure``, the messages Dramatiq gives up on are recorded so. Several workers can
    share a process (the embedded mode): each registers its queue on the one broker.
    """
    global _process_broker  # one broker per process, as Dramatiq has
    if _process_broker is None:
        configure_logging(log_format=settings.resolved_log_format, level=settings.log_level)
        allow_any_amqp_headers()
        _process_broker = build_broker(settings)
        dramatiq.set_broker(_process_broker)
    for middleware in _process_broker.middleware:
        if isinstance(middleware, DeadLetterRecorder) and on_failure is not None:
            middleware.register(queue, on_failure)
        if isinstance(middleware, DeliveryLimit) and db is not None:
            middleware.register(queue, DeliveryAttempts(db, consumer=queue))
    if isinstance(_process_broker, WervingRabbitmqBroker) and db is not None:
        _process_broker.on_refusal(queue, refusals_into(db))
    return _process_broker


def refusals_into(db: Database) -> RefusalRecorder:
    """Store a worker's refused deliveries as dead letters in ``db``."""

    def store(queue_name: str, body: bytes, refusal: Refusal) -> None:
        with db.transaction() as session:
            record_dead_letter(
                session,
                source="worker",
                queue=queue_name,
                reason=refusal.reason,
                body=body,
                actor_name=refusal.actor_name,
                message_id=refusal.message_id,
            )

    def record(queue_name: str, body: bytes, refusal: Refusal) -> None:
        # On the consumer thread's kept connection: tried again on a fresh one, and while
        # the database is away (the consumer waits meanwhile; nothing else could be stored).
        retried_while_unavailable(
            partial(store, queue_name, body, refusal), what="refused delivery"
        )

    return record
