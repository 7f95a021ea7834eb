"""The embedded mode: the whole system in one process, on SQLite and the in-process broker.

For trying werving with nothing installed. The same code runs in production;
only the adapters differ (StubBroker instead of RabbitMQ, a local SMTP sink
instead of a mail server, a directory instead of S3, a polling relay instead of
LISTEN/NOTIFY).
"""

from __future__ import annotations

import errno
import os
import socket
import threading
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

import dramatiq
import structlog
import uvicorn
from sqlalchemy import select

from services.command_api.api_keys import ALL_SCOPES, create_api_key, create_organisation
from services.command_api.app import create_app
from services.mail_sink_page import mail_page_router
from services.mail_worker.sink import forget_unknown_mail, start_sink
from services.processes import (
    LEASE_CHECK_INTERVAL_S,
    recover_emails_now,
    retention_sweep,
    run_every,
)
from shared.db.database import Database
from shared.db.migrate import upgrade
from shared.db.models import Organisation, OutboundEmail, Vacancy
from shared.logging import configure_logging
from shared.messaging.broker import declare_worker_queues
from shared.messaging.publishers import BrokerPublisher
from shared.messaging.relay import PollWaker, Relay
from shared.messaging.routes import WORKER_QUEUES
from shared.messaging.scheduler import run_scheduler
from shared.settings import STUB_BROKER_URL, Settings

log = structlog.get_logger(__name__)

DEMO_ORGANISATION = "Demo organisation"
# How often the mail sink forgets the mail of purged applications (and at every page).
SINK_SWEEP_INTERVAL_S = 2.0


def check_port_free(host: str, port: int, option: str) -> None:
    """Stop with one sentence, naming the port and the option that changes it, when
    another program listens there (instead of a traceback from deep in a server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As uvicorn and aiosmtpd bind: a port in TIME_WAIT is free to them.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise SystemExit(
                    f"werving dev cannot listen on {host}:{port}: {exc.strerror}"
                ) from None
            raise SystemExit(
                f"werving dev: port {port} on {host} is in use by another program;"
                f" choose another with {option} <port>"
            ) from None


def embedded_settings(var_dir: Path, smtp_port: int) -> Settings:
    """Settings for the embedded mode; any ``WERVING_`` variable still wins."""
    os.environ.setdefault("WERVING_DATABASE_URL", f"sqlite:///{var_dir / 'werving.db'}")
    os.environ["WERVING_SMTP_HOST"] = "127.0.0.1"
    os.environ["WERVING_SMTP_PORT"] = str(smtp_port)
    os.environ["WERVING_SMTP_SECURITY"] = "none"
    os.environ.setdefault("WERVING_BROKER_URL", STUB_BROKER_URL)
    os.environ.setdefault("WERVING_DOCUMENTS_DIR", str(var_dir / "documents"))
    os.environ.setdefault("WERVING_ENVIRONMENT", "dev")
    settings = Settings()
    if not settings.uses_stub_broker:
        raise SystemExit("werving dev runs on the in-process broker; unset WERVING_BROKER_URL")
    return settings


def ensure_demo(db: Database) -> tuple[str, str]:
    """The demo organisation's fresh API key and an open vacancy's id."""
    with db.transaction() as session:
        organisation = session.scalar(
            select(Organisation).where(Organisation.name == DEMO_ORGANISATION)
        ) or create_organisation(session, DEMO_ORGANISATION, default_locale="en")
        vacancy = session.scalar(
            select(Vacancy).where(Vacancy.organisation_id == organisation.id, Vacancy.is_open)
        )
        if vacancy is None:
            vacancy = Vacancy(organisation_id=organisation.id, title="Backend developer")
            session.add(vacancy)
            session.flush()
        key = create_api_key(session, organisation.id, list(ALL_SCOPES), name="werving dev")
        return key, str(vacancy.id)


def known_message_ids(db: Database) -> Callable[[Iterable[str]], set[str]]:
    """Which of the given Message-IDs an email row still has."""

    def known(message_ids: Iterable[str]) -> set[str]:
        wanted, found = list(message_ids), set[str]()
        with db.transaction() as session:
            for start in range(0, len(wanted), 500):
                found.update(
                    session.scalars(
                        select(OutboundEmail.message_id_header).where(
                            OutboundEmail.message_id_header.in_(wanted[start : start + 500])
                        )
                    )
                )
        return found

    return known


def _sweep_sink(directory: Path, db: Database, stop: threading.Event) -> None:
    known = known_message_ids(db)
    while not stop.wait(SINK_SWEEP_INTERVAL_S):
        forget_unknown_mail(directory, known)


def run_embedded(*, host: str, port: int, smtp_port: int, var_dir: Path) -> None:
    check_port_free(host, port, "--port")
    check_port_free("127.0.0.1", smtp_port, "--smtp-port")
    settings = embedded_settings(var_dir, smtp_port)
    configure_logging(log_format="console", level=settings.log_level)
    upgrade(settings.database_url)

    # The actors bind to the broker their boot module builds from the settings: all three
    # workers share it, as threads of this process.
    from services.document_worker import actors as _document_actors  # noqa: F401
    from services.mail_worker import actors as _mail_actors  # noqa: F401
    from services.status_worker import actors as _status_actors  # noqa: F401

    broker = dramatiq.get_broker()
    declare_worker_queues(broker, WORKER_QUEUES)
    worker = dramatiq.Worker(broker, worker_threads=4)
    worker.start()

    db = Database(settings.database_url)
    stop = threading.Event()
    waker = PollWaker()
    relay = Relay(db, BrokerPublisher(broker), events_exchange=settings.events_exchange)
    relay_thread = threading.Thread(
        target=relay.run,
        args=(stop, waker),
        kwargs={"poll_interval_s": settings.relay_poll_interval_s},
        name="relay",
        daemon=True,
    )
    relay_thread.start()
    scheduler_thread = threading.Thread(
        target=run_scheduler, args=(db, stop), name="scheduler", daemon=True
    )
    scheduler_thread.start()
    for loop, interval_s, step in (
        # Emails whose message went with a previous run (the in-process broker keeps none).
        ("email_recovery", LEASE_CHECK_INTERVAL_S, partial(recover_emails_now, db)),
        ("retention", settings.retention_sweep_interval_s, retention_sweep(db, settings)),
    ):
        threading.Thread(
            target=run_every, args=(loop, interval_s, stop, step), name=loop, daemon=True
        ).start()
    mail_dir = var_dir / "mail"
    sink = start_sink(mail_dir, port=smtp_port)
    sink_thread = threading.Thread(
        target=_sweep_sink, args=(mail_dir, db, stop), name="mail-sink-sweep", daemon=True
    )
    sink_thread.start()

    key, vacancy_id = ensure_demo(db)
    base = f"http://{host}:{port}"
    banner = (
        f"\nwerving is running (embedded mode)\n"
        f"  API docs:         {base}/docs\n"
        f"  demo API key:     {key}\n"
        f"  open vacancy id:  {vacancy_id}\n"
        f"  mail sink:        smtp://127.0.0.1:{smtp_port} -> {var_dir / 'mail'}\n"
        f"  caught mail:      {base}/dev/mail\n"
        f"  documents:        {settings.documents_dir}\n"
    )
    print(banner, flush=True)  # noqa: T201 - the one thing a newcomer must see
    try:
        app = create_app(settings, db)
        known = known_message_ids(db)
        app.include_router(mail_page_router(mail_dir, lambda: forget_unknown_mail(mail_dir, known)))
        uvicorn.run(app, host=host, port=port, log_config=None)
    finally:
        stop.set()
        waker.close()
        relay_thread.join(timeout=5)
        scheduler_thread.join(timeout=5)
        sink_thread.join(timeout=5)
        worker.stop()
        sink.stop()
        db.dispose()
