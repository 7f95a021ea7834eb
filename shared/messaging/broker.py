"""Dramatiq broker set-up: RabbitMQ with confirms in production, in-process for embedded mode."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, Retries, TimeLimit

from shared.errors import PermanentError
from shared.logging import configure_logging
from shared.messaging.acks import BatchingRabbitmqBroker
from shared.messaging.middleware import DeadLetterRecorder, FailureRecorder, LogContext
from shared.settings import Settings

# RabbitMQ closes a channel whose delivery stays unacked for 30 minutes
# (consumer_timeout) and requeues everything on it. Dramatiq holds retried
# messages unacked until their ETA, so every delay and run time stays well below.
MAX_BACKOFF_MS: Final = 5 * 60 * 1000
TIME_LIMIT_MS: Final = 5 * 60 * 1000

ACTOR_OPTIONS: Final[dict[str, Any]] = {
    "max_retries": 8,
    "min_backoff": 1_000,
    "max_backoff": MAX_BACKOFF_MS,
    "time_limit": TIME_LIMIT_MS,
    "throws": (PermanentError,),
}


def build_broker(settings: Settings) -> dramatiq.Broker:
    """Build (without connecting) the broker the settings name, with werving's middleware."""
    # Dramatiq runs "before" hooks in this order and "after" hooks in reverse: the
    # log context is bound first and cleared last, and the dead-letter recorder
    # sees a message after Retries has decided whether it failed. Of Dramatiq's
    # defaults, only what werving's actors use is kept (time limits, retries):
    # every message would pay for the hooks of the others. werving chains work
    # through its own outbox, never through actor callbacks or pipelines; no message
    # or actor sets a max_age (AgeLimit) or asks for notify_shutdown
    # (ShutdownNotifications).
    middleware: list[Middleware] = [
        LogContext(),
        DeadLetterRecorder(),
        TimeLimit(),
        Retries(max_retries=8, min_backoff=1_000, max_backoff=MAX_BACKOFF_MS),
    ]
    broker: dramatiq.Broker
    if settings.uses_stub_broker:
        broker = StubBroker(middleware=middleware)
    else:
        broker = BatchingRabbitmqBroker(
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
    settings: Settings, queue: str, on_failure: FailureRecorder | None = None
) -> dramatiq.Broker:
    """Set up a worker process once: logging, then the global broker its actors bind to.

    Several workers can share a process (the embedded mode): each registers how
    its queue's dead letters are recorded on the one broker.
    """
    global _process_broker  # one broker per process, as Dramatiq has
    if _process_broker is None:
        configure_logging(log_format=settings.resolved_log_format, level=settings.log_level)
        _process_broker = build_broker(settings)
        dramatiq.set_broker(_process_broker)
    if on_failure is not None:
        for middleware in _process_broker.middleware:
            if isinstance(middleware, DeadLetterRecorder):
                middleware.register(queue, on_failure)
    return _process_broker
