"""The outbox relay: publishes committed outbox rows, then marks them published.

Safe to run as several copies: each claims its batch with ``FOR UPDATE SKIP
LOCKED`` and holds the row locks until the broker has confirmed the batch. A
crash between confirm and commit republishes the batch; consumers are idempotent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import dramatiq
import psycopg
import structlog
from psycopg.conninfo import make_conninfo
from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from shared.db.database import Database, libpq_options
from shared.db.models import OutboxMessage
from shared.db.types import utcnow
from shared.messaging.outbox import EVENT
from shared.messaging.publishers import Outgoing, Publisher, PublishError
from shared.messaging.routing_keys import event_routing_key
from shared.outages import UNEXPECTED_FAILURE_PAUSE_S, Outage

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "werving_outbox"


class Waker(Protocol):
    def wait(self, timeout_s: float) -> None:
        """Return when new outbox rows may exist, or after ``timeout_s``."""
        ...

    def close(self) -> None: ...


class PollWaker:
    """Sleeps for the poll interval; ``nudge`` wakes it early (in-process callers)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def nudge(self) -> None:
        self._event.set()

    def wait(self, timeout_s: float) -> None:
        self._event.wait(timeout_s)
        self._event.clear()

    def close(self) -> None:
        self._event.set()


class PgNotifyWaker:
    """Wakes on PostgreSQL ``NOTIFY werving_outbox`` (sent by a trigger on insert).

    Its connection is its own, and it is lost like any other (a restart, a failover,
    ``pg_terminate_backend``, an idle timeout). Then ``wait`` returns at once, so the relay
    runs a batch for whatever was written meanwhile, and the waker listens again on a new
    connection; until one can be opened it sleeps the poll interval (the relay polls), and
    tries to connect with a growing pause between tries. It never raises.
    """

    def __init__(self, database_url: str, *, application_name: str | None = None) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = make_conninfo(
            url.render_as_string(hide_password=False), **libpq_options(application_name)
        )
        self._conn: psycopg.Connection[Any] | None = None
        self._outage = Outage("database", loop="relay listener")
        self._next_try = 0.0

    def wait(self, timeout_s: float) -> None:
        conn = self._listening()
        if conn is None:
            time.sleep(timeout_s)
            return
        try:
            # Drain everything pending: one wake-up is enough for any number of rows.
            for _ in conn.notifies(timeout=timeout_s, stop_after=1):
                pass
        except psycopg.Error as exc:
            self._lost(exc)

    def _listening(self) -> psycopg.Connection[Any] | None:
        """The listening connection; opened (again) when it is time to try."""
        if self._conn is not None:
            return self._conn
        if time.monotonic() < self._next_try:
            return None
        try:
            self._conn = psycopg.connect(self._conninfo, autocommit=True)
            self._conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        except psycopg.Error as exc:
            self._lost(exc)
            return None
        self._outage.restored()
        return self._conn

    def _lost(self, error: psycopg.Error) -> None:
        self._next_try = time.monotonic() + self._outage.failed(error)
        self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(psycopg.Error):
                conn.close()


class OutboxRow(Protocol):
    """What the relay reads of an outbox row (an ORM object or a selected row)."""

    id: UUID
    organisation_id: UUID | None
    kind: str
    destination: str
    actor_name: str | None
    payload: dict[str, Any]
    created_at: datetime


class UnpublishableError(ValueError):
    """An outbox row the relay must never publish as it is."""


def outgoing_for(row: OutboxRow, events_exchange: str) -> Outgoing:
    """The message the relay publishes for ``row``: an event's JSON to the exchange under
    its organisation's routing key, or a task as the Dramatiq message its worker expects
    (its id is the row's).

    An event row holds the event's name; the key is composed here, so rows written before
    keys named the organisation are published under it too. Raises UnpublishableError for an
    event without an organisation: no key could confine it to one.
    """
    if row.kind == EVENT:
        if row.organisation_id is None:
            raise UnpublishableError("an event without an organisation is never published")
        body = json.dumps(row.payload, separators=(",", ":")).encode()
        return Outgoing(
            id=row.id,
            exchange=events_exchange,
            routing_key=event_routing_key(row.organisation_id, row.destination),
            body=body,
        )
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=row.destination,
        actor_name=row.actor_name or "",
        args=(row.payload,),
        kwargs={},
        options={},
        message_id=str(row.id),
        message_timestamp=int(row.created_at.timestamp() * 1000),
    )
    return Outgoing(id=row.id, exchange="", routing_key=row.destination, body=message.encode())


class Relay:
    def __init__(
        self,
        db: Database,
        publisher: Publisher,
        *,
        events_exchange: str,
        batch_size: int = 500,
    ) -> None:
        self._db = db
        self.publisher = publisher
        self._events_exchange = events_exchange
        self._batch_size = batch_size

    def relay_batch(self) -> int:
        """Publish one batch of unpublished rows; returns how many were confirmed."""
        with self._db.transaction() as session:
            rows = session.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.organisation_id,
                    OutboxMessage.kind,
                    OutboxMessage.destination,
                    OutboxMessage.actor_name,
                    OutboxMessage.payload,
                    OutboxMessage.created_at,
                )
                .where(OutboxMessage.published_at.is_(None))
                .order_by(OutboxMessage.created_at)
                .limit(self._batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            outgoing: list[Outgoing] = []
            unpublishable: dict[UUID, str | None] = {}
            for row in rows:
                try:
                    outgoing.append(outgoing_for(row, self._events_exchange))
                except UnpublishableError as exc:
                    unpublishable[row.id] = str(exc)
            results = self.publisher.publish(outgoing) | unpublishable
            confirmed = [i for i, reason in results.items() if reason is None]
            if confirmed:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(confirmed))
                    .values(published_at=utcnow())
                )
            self._record_failures(session, results)
        log.debug("outbox.relayed", published=len(confirmed), claimed=len(rows))
        return len(confirmed)

    @staticmethod
    def _record_failures(session: Any, results: dict[UUID, str | None]) -> None:
        by_reason: dict[str, list[UUID]] = defaultdict(list)
        for message_id, reason in results.items():
            if reason is not None:
                by_reason[reason].append(message_id)
        for reason, ids in by_reason.items():
            log.warning("outbox.publish_refused", reason=reason, count=len(ids))
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(attempts=OutboxMessage.attempts + 1, last_error=reason)
            )

    def run(
        self,
        stop: threading.Event,
        waker: Waker,
        *,
        poll_interval_s: float = 0.25,
        reconnect: Sequence[Callable[[], None]] = (),
    ) -> None:
        """Relay until ``stop`` is set, whatever fails meanwhile. ``reconnect`` callables
        run after a publish failure (a new connection to the broker); a lost database
        connection is replaced by the pool at the next batch. Each outage is logged once,
        when it starts and when it ends, and retried with a growing pause."""
        log.info("relay.started")
        database = Outage("database", loop="relay")
        broker = Outage("broker", loop="relay")
        while not stop.is_set():
            try:
                published = self.relay_batch()
            except PublishError as exc:
                stop.wait(broker.failed(exc, detail=str(exc)))
                self._reconnect(reconnect, broker)
                continue
            except SQLAlchemyError as exc:
                stop.wait(database.failed(exc))
                continue
            except Exception:  # a bug: said loudly, and the next batch comes
                log.exception("relay.batch_failed")
                stop.wait(UNEXPECTED_FAILURE_PAUSE_S)
                continue
            database.restored()
            if published:  # the broker confirmed something: it is back
                broker.restored()
            if published < self._batch_size:
                try:
                    waker.wait(poll_interval_s)
                except Exception:  # a bug: a waker must not stop the relay
                    log.exception("relay.waker_failed")
                    stop.wait(UNEXPECTED_FAILURE_PAUSE_S)
        log.info("relay.stopped")

    @staticmethod
    def _reconnect(steps: Sequence[Callable[[], None]], broker: Outage) -> None:
        for step in steps:
            try:
                step()
            except Exception as exc:  # the next batch fails again, and reconnects again
                broker.failed(exc, detail=str(exc))


def drain(relay: Relay, *, timeout_s: float = 30) -> int:
    """Publish until the outbox is empty (tests and one-shot tooling)."""
    deadline = time.monotonic() + timeout_s
    total = 0
    while time.monotonic() < deadline:
        published = relay.relay_batch()
        total += published
        if published == 0:
            return total
    raise TimeoutError("outbox did not drain")
