"""Long-running processes (API, relay, ingress), wired from settings.

Part of the composition root with ``cli`` and ``embedded``: the only modules
that may import more than one service.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import structlog

from services.command_api.idempotency import delete_expired
from services.command_api.ingress import CommandIngress
from services.command_api.refusals import delete_expired_refusals
from services.retention import sweep_retention
from shared.db.availability import database_unavailable
from shared.db.database import Database
from shared.documents.storage import storage_from_settings
from shared.documents.sweep import sweep_documents
from shared.messaging.broker import build_broker, declare_worker_queues
from shared.messaging.delivery_attempts import sweep_delivery_attempts
from shared.messaging.publishers import PipelinedPublisher
from shared.messaging.relay import PgNotifyWaker, PollWaker, Relay, Waker
from shared.messaging.routes import WORKER_QUEUES
from shared.messaging.scheduler import run_scheduler
from shared.outages import Outage
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

    db = Database(settings.database_url, pool_size=10, application_name="werving-api")
    uvicorn.run(create_app(settings, db), host=host, port=port, log_config=None)


def run_every(
    loop: str, interval_s: float, stop: threading.Event, step: Callable[[], object]
) -> None:
    """Run ``step`` every ``interval_s`` seconds until ``stop``, whatever it raises: the
    database being away is logged once per outage, any other failure once per round (with
    its traceback: a bug), and the next round comes as usual."""
    database = Outage("database", loop=loop)
    while not stop.wait(interval_s):
        try:
            step()
        except Exception as exc:
            if not database_unavailable(exc):
                log.exception("process.round_failed", loop=loop)
                continue
            database.failed(exc)
            continue
        database.restored()


def housekeeping(db: Database, retention: timedelta) -> None:
    """Forget expired idempotency keys, refusals as old, and stale delivery counts."""
    with db.transaction() as session:
        forgotten = delete_expired(session)
        refusals = delete_expired_refusals(session, retention)
    swept = sweep_delivery_attempts(db)
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
    db = Database(settings.database_url, pool_size=2, application_name="werving-relay")
    relay = Relay(
        db,
        PipelinedPublisher(settings.broker_url, exchanges=[settings.events_exchange]),
        events_exchange=settings.events_exchange,
        batch_size=settings.relay_batch_size,
    )

    def reconnect() -> None:
        """A new confirmed channel. The worker queues are declared first, exactly as
        Dramatiq declares them, so that a publish is routable even before any worker has
        started (or after the broker lost them)."""
        relay.publisher.close()
        queue_broker = build_broker(settings)
        try:
            declare_worker_queues(queue_broker, WORKER_QUEUES)
        finally:
            queue_broker.close()
        publisher = PipelinedPublisher(settings.broker_url, exchanges=[settings.events_exchange])
        publisher.connect()
        relay.publisher = publisher

    try:
        reconnect()
    except Exception as exc:  # the first publish fails, and the relay reconnects then
        log.warning("relay.connect_failed", error=type(exc).__name__, detail=str(exc)[:300])
    waker: Waker = (
        PgNotifyWaker(settings.database_url, application_name="werving-relay-listener")
        if db.is_postgresql
        else PollWaker()
    )
    retention = timedelta(hours=settings.idempotency_retention_hours)
    threading.Thread(
        target=run_every,
        args=("housekeeping", HOUSEKEEPING_INTERVAL_S, stop, partial(housekeeping, db, retention)),
        daemon=True,
    ).start()
    try:
        relay.run(
            stop, waker, poll_interval_s=settings.relay_poll_interval_s, reconnect=[reconnect]
        )
    finally:
        waker.close()
        relay.publisher.close()
        db.dispose()


LEASE_CHECK_INTERVAL_S = 30


def retention_sweep(db: Database, settings: Settings) -> Callable[[], object]:
    """One round of the AVG retention policy (see services.retention)."""
    key_retention = timedelta(hours=settings.idempotency_retention_hours)
    return partial(sweep_retention, db, key_retention=key_retention)


def recover_emails_now(db: Database) -> None:
    """Emails that no message carries any more: settled or enqueued again (see
    services.mail_worker.recovery)."""
    from services.mail_worker.recovery import recover_emails  # only the mail extra has it

    recover_emails(db)


SWEEP_INTERVAL_S = 900


def run_scheduler_process(settings: Settings, stop: threading.Event) -> None:
    db = Database(settings.database_url, pool_size=3, application_name="werving-scheduler")
    threading.Thread(
        target=run_every,
        args=("email_recovery", LEASE_CHECK_INTERVAL_S, stop, partial(recover_emails_now, db)),
        daemon=True,
    ).start()
    storage = storage_from_settings(settings)
    # Erase unused CVs and files no document names (see shared.documents.sweep).
    threading.Thread(
        target=run_every,
        args=("document_sweep", SWEEP_INTERVAL_S, stop, partial(sweep_documents, db, storage)),
        daemon=True,
    ).start()
    threading.Thread(
        target=run_every,
        args=(
            "retention",
            settings.retention_sweep_interval_s,
            stop,
            retention_sweep(db, settings),
        ),
        daemon=True,
    ).start()
    try:
        run_scheduler(db, stop)
    finally:
        db.dispose()


def run_ingress(settings: Settings, stop: threading.Event) -> None:
    if settings.uses_stub_broker:
        raise SystemExit("the AMQP ingress needs RabbitMQ (WERVING_BROKER_URL)")
    db = Database(settings.database_url, pool_size=2, application_name="werving-ingress")
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
