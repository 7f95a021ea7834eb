"""Long-running processes (API, relay, ingress), wired from settings.

Part of the composition root with ``cli`` and ``embedded``: the only modules
that may import more than one service.
"""

from __future__ import annotations

import signal
import threading
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError

from services.command_api.idempotency import delete_expired
from services.command_api.ingress import CommandIngress
from services.command_api.refusals import delete_expired_refusals
from shared.db.database import Database
from shared.documents.storage import DocumentStorage, storage_from_settings
from shared.documents.sweep import sweep_documents
from shared.messaging.broker import build_broker, declare_worker_queues
from shared.messaging.delivery_attempts import sweep_delivery_attempts
from shared.messaging.publishers import PipelinedPublisher
from shared.messaging.relay import PgNotifyWaker, PollWaker, Relay, Waker
from shared.messaging.routes import WORKER_QUEUES
from shared.messaging.scheduler import run_scheduler
from shared.settings import Settings

log = structlog.get_logger(__name__)

HOUSEKEEPING_INTERVAL_S = 600


def stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def _handler(signum: int, _frame: Any) -> None:
        log.info("process.stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    return stop


def serve_api(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from services.command_api.app import create_app

    db = Database(settings.database_url, pool_size=10)
    uvicorn.run(create_app(settings, db), host=host, port=port, log_config=None)


def run_housekeeping(db: Database, stop: threading.Event, retention: timedelta) -> None:
    """Forget expired idempotency keys, refusals as old, and stale delivery counts, every few
    minutes, until ``stop``."""
    while not stop.wait(HOUSEKEEPING_INTERVAL_S):
        try:
            with db.transaction() as session:
                forgotten = delete_expired(session)
                refusals = delete_expired_refusals(session, retention)
            swept = sweep_delivery_attempts(db)
        except SQLAlchemyError as exc:
            log.warning("housekeeping.failed", error=type(exc).__name__)
            continue
        if forgotten:
            log.info("idempotency.expired_keys_deleted", count=forgotten)
        if refusals:
            log.info("ingress.expired_refusals_deleted", count=refusals)
        if swept:
            log.info("delivery_attempts.swept", count=swept)


def run_relay(settings: Settings, stop: threading.Event) -> None:
    if settings.uses_stub_broker:
        raise SystemExit(
            "the relay needs RabbitMQ (WERVING_BROKER_URL); `werving dev` runs one in-process"
        )
    db = Database(settings.database_url, pool_size=2)
    # Declare the worker queues exactly as Dramatiq does, so that the first
    # publish is routable even before any worker has started.
    queue_broker = build_broker(settings)
    declare_worker_queues(queue_broker, WORKER_QUEUES)
    queue_broker.close()

    publisher = PipelinedPublisher(settings.broker_url, exchanges=[settings.events_exchange])
    publisher.connect()

    def reconnect() -> None:
        nonlocal publisher
        publisher.close()
        publisher = PipelinedPublisher(settings.broker_url, exchanges=[settings.events_exchange])
        publisher.connect()
        relay.publisher = publisher

    waker: Waker = PgNotifyWaker(settings.database_url) if db.is_postgresql else PollWaker()
    relay = Relay(
        db,
        publisher,
        events_exchange=settings.events_exchange,
        batch_size=settings.relay_batch_size,
    )
    retention = timedelta(hours=settings.idempotency_retention_hours)
    threading.Thread(target=run_housekeeping, args=(db, stop, retention), daemon=True).start()
    try:
        relay.run(
            stop, waker, poll_interval_s=settings.relay_poll_interval_s, reconnect=[reconnect]
        )
    finally:
        waker.close()
        publisher.close()
        db.dispose()


LEASE_CHECK_INTERVAL_S = 30


def settle_expired_sends(db: Database, stop: threading.Event) -> None:
    """Emails that no message carries any more: settled or enqueued again (see
    services.mail_worker.recovery)."""
    from services.mail_worker.recovery import recover_emails  # only the mail extra has it

    while not stop.wait(LEASE_CHECK_INTERVAL_S):
        try:
            recover_emails(db)
        except SQLAlchemyError as exc:
            log.warning("email.recovery_failed", error=type(exc).__name__)


SWEEP_INTERVAL_S = 900


def sweep_stored_documents(db: Database, storage: DocumentStorage, stop: threading.Event) -> None:
    """Erase unused CVs and files no document names (see shared.documents.sweep)."""
    while not stop.wait(SWEEP_INTERVAL_S):
        try:
            sweep_documents(db, storage)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("documents.sweep_failed", error=type(exc).__name__)


def run_scheduler_process(settings: Settings, stop: threading.Event) -> None:
    db = Database(settings.database_url, pool_size=3)
    threading.Thread(target=settle_expired_sends, args=(db, stop), daemon=True).start()
    storage = storage_from_settings(settings)
    threading.Thread(target=sweep_stored_documents, args=(db, storage, stop), daemon=True).start()
    try:
        run_scheduler(db, stop)
    finally:
        db.dispose()


def run_ingress(settings: Settings, stop: threading.Event) -> None:
    if settings.uses_stub_broker:
        raise SystemExit("the AMQP ingress needs RabbitMQ (WERVING_BROKER_URL)")
    db = Database(settings.database_url, pool_size=2)
    ingress = CommandIngress(
        db,
        queue=settings.ingress_queue,
        retention=timedelta(hours=settings.idempotency_retention_hours),
        exchange=settings.ingress_exchange,
    )
    try:
        ingress.consume(settings.broker_url, stop)
    finally:
        db.dispose()
