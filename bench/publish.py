"""Publishing with publisher confirms: raw pika pipelining, and the outbox relay.

Both publish the same kind of message (persistent, ~200 bytes of JSON, a message id)
through the topic exchange ``werving.events`` into one durable bench queue, so
the broker does the same work for each; only the client side differs.
"""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import pika
from pika.channel import Channel
from pika.spec import Basic, BasicProperties
from sqlalchemy import event, insert, text

from bench._common import (
    BENCH_ORGANISATION,
    BENCH_QUEUE,
    EVENTS_EXCHANGE,
    PHASE_TIMEOUT_S,
    BenchError,
    bench_payload,
    body_bytes,
    purge_queues,
    queue_depth,
    rabbitmq_url,
    wait_until,
)
from shared.db.database import Database
from shared.db.models import OutboxMessage
from shared.db.types import utcnow
from shared.ids import new_id
from shared.messaging.outbox import EVENT
from shared.messaging.publishers import Outgoing, PipelinedPublisher
from shared.messaging.relay import Relay, drain

# -- raw pika --------------------------------------------------------------------------


@dataclass
class RawResult:
    messages: int
    seconds: float
    window: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


class RawPipelinedPublisher:
    """The floor: pika ``SelectConnection`` with confirms, up to ``window`` messages in flight.

    Runs the I/O loop on the calling thread; counts acks (``multiple`` ones too)
    in O(1) each. The clock runs from the first publish to the last confirm.
    """

    def __init__(self, bodies: Sequence[bytes], *, window: int, routing_key: str) -> None:
        self._bodies = bodies
        self._window = window
        self._routing_key = routing_key
        self._connection: pika.SelectConnection | None = None
        self._channel: Channel | None = None
        self._sent = 0
        self._settled = 0
        self._nacked = 0
        self._low = 1  # every tag below this one is settled
        self._settled_tags = bytearray(len(bodies) + 2)
        self._started = 0.0
        self._finished = 0.0
        self._error: str | None = None

    def run(self, timeout_s: float = PHASE_TIMEOUT_S) -> RawResult:
        self._connection = pika.SelectConnection(
            pika.URLParameters(rabbitmq_url()),
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
        )
        self._connection.ioloop.call_later(timeout_s, self._on_timeout)
        self._connection.ioloop.start()
        if self._error is not None:
            raise BenchError(f"raw publish: {self._error}")
        if self._nacked:
            raise BenchError(f"raw publish: {self._nacked} messages nacked")
        return RawResult(len(self._bodies), self._finished - self._started, self._window)

    def _on_open(self, connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, connection: pika.SelectConnection, error: Any) -> None:
        self._error = f"could not connect: {error}"
        connection.ioloop.stop()

    def _on_closed(self, connection: pika.SelectConnection, reason: Any) -> None:
        if self._settled < len(self._bodies) and self._error is None:
            self._error = f"connection closed early: {reason}"
        connection.ioloop.stop()

    def _on_timeout(self) -> None:
        self._error = f"timed out with {self._settled}/{len(self._bodies)} confirmed"
        self._close()

    def _close(self) -> None:
        assert self._connection is not None
        if self._connection.is_open:
            self._connection.close()

    def _on_channel_open(self, channel: Channel) -> None:
        self._channel = channel
        channel.confirm_delivery(self._on_confirm, callback=self._on_confirm_mode)

    def _on_confirm_mode(self, _frame: Any) -> None:
        self._started = time.perf_counter()
        self._fill()

    def _fill(self) -> None:
        assert self._channel is not None
        channel, bodies, total = self._channel, self._bodies, len(self._bodies)
        while self._sent < total and self._sent - self._settled < self._window:
            channel.basic_publish(
                exchange=EVENTS_EXCHANGE,
                routing_key=self._routing_key,
                body=bodies[self._sent],
                properties=BasicProperties(
                    delivery_mode=2,
                    content_type="application/json",
                    message_id=str(uuid.uuid4()),
                ),
            )
            self._sent += 1

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag = method.delivery_tag
        if not isinstance(method, Basic.Ack):
            self._nacked += 1
        settled = self._settled_tags
        if method.multiple:
            for t in range(self._low, tag + 1):
                if not settled[t]:
                    settled[t] = 1
                    self._settled += 1
        elif not settled[tag]:
            settled[tag] = 1
            self._settled += 1
        while self._low <= self._sent and settled[self._low]:
            self._low += 1
        if self._settled == len(self._bodies):
            self._finished = time.perf_counter()
            self._close()
        else:
            self._fill()


def raw_pipelined(n: int, *, window: int = 1000) -> RawResult:
    purge_queues([BENCH_QUEUE])
    bodies = [body_bytes(bench_payload(i)) for i in range(n)]
    gc.collect()  # start both figures with the same clean heap
    result = RawPipelinedPublisher(
        bodies, window=window, routing_key=f"{BENCH_ORGANISATION}.bench.raw"
    ).run()
    _expect_stored(n)
    return result


def _expect_stored(n: int) -> None:
    """Every confirmed message is in the bench queue (it was routed and stored)."""
    wait_until(lambda: queue_depth(BENCH_QUEUE)[0] >= n, timeout_s=30, what=f"{n} stored")
    stored = queue_depth(BENCH_QUEUE)[0]
    if stored != n:
        raise BenchError(f"expected {n} messages in {BENCH_QUEUE}, found {stored}")
    purge_queues([BENCH_QUEUE])


# -- the relay -------------------------------------------------------------------------


@dataclass
class RelayResult:
    messages: int
    seconds: float
    batch_size: int
    batches: int
    publish_s: float  # in publisher.publish: handing over, broker confirms
    select_s: float  # the claiming SELECT ... FOR UPDATE SKIP LOCKED
    update_s: float  # the UPDATE ... SET published_at
    commit_s: float
    profile: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def other_s(self) -> float:
        """Building messages from rows, SQLAlchemy overhead, the empty last batch."""
        return self.seconds - self.publish_s - self.select_s - self.update_s - self.commit_s

    def breakdown(self) -> str:
        parts = {
            "publish+confirm": self.publish_s,
            "select": self.select_s,
            "update": self.update_s,
            "commit": self.commit_s,
            "other (rows->messages, ORM)": self.other_s,
        }
        per_batch = max(self.batches, 1)
        return ", ".join(
            f"{name} {seconds / per_batch * 1000:.1f} ms ({seconds / self.seconds:.0%})"
            for name, seconds in parts.items()
        )


class _TimedPublisher:
    """Wraps the real publisher to time ``publish`` (hand-over to the I/O thread + confirms)."""

    def __init__(self, inner: PipelinedPublisher) -> None:
        self.inner = inner
        self.seconds = 0.0

    def publish(self, messages: Sequence[Outgoing]) -> dict[UUID, str | None]:
        started = time.perf_counter()
        try:
            return self.inner.publish(messages)
        finally:
            self.seconds += time.perf_counter() - started

    def close(self) -> None:
        self.inner.close()


class _ProfiledPublisher(PipelinedPublisher):
    """The real publisher with cProfile running on its I/O-loop thread."""

    def __init__(self, url: str, *, exchanges: Sequence[str]) -> None:
        super().__init__(url, exchanges=exchanges)
        self.io_profile = cProfile.Profile()

    def _run(self) -> None:
        self.io_profile.enable()
        try:
            super()._run()
        finally:
            self.io_profile.disable()


@dataclass
class _StatementTimer:
    """Times SELECT, UPDATE and COMMIT on the relay's engine (SQLAlchemy events)."""

    select_s: float = 0.0
    update_s: float = 0.0
    commit_s: float = 0.0
    _started: list[float] = field(default_factory=list)

    def attach(self, db: Database) -> None:
        event.listen(db.engine, "before_cursor_execute", self._before)
        event.listen(db.engine, "after_cursor_execute", self._after)
        original = db.engine.dialect.do_commit

        def timed_commit(dbapi_connection: Any) -> None:
            started = time.perf_counter()
            try:
                original(dbapi_connection)
            finally:
                self.commit_s += time.perf_counter() - started

        db.engine.dialect.do_commit = timed_commit  # type: ignore[method-assign]

    def _before(self, *_args: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        elapsed = time.perf_counter() - self._started.pop()
        verb = statement.lstrip()[:6].upper()
        if verb == "SELECT":
            self.select_s += elapsed
        elif verb == "UPDATE":
            self.update_s += elapsed


def fill_outbox(db: Database, n: int) -> None:
    """``n`` unpublished event rows, oldest first, then VACUUM ANALYZE as autovacuum would."""
    base = utcnow() - timedelta(minutes=5)
    with db.transaction() as session:
        session.execute(text("TRUNCATE outbox"))
    chunk = 5000
    for start in range(0, n, chunk):
        rows = [
            {
                "id": new_id(),
                "organisation_id": BENCH_ORGANISATION,
                "kind": EVENT,
                "destination": "bench.event",
                "actor_name": None,
                "payload": bench_payload(i),
                "created_at": base + timedelta(microseconds=i),
                "attempts": 0,
            }
            for i in range(start, min(n, start + chunk))
        ]
        with db.transaction() as session:
            session.execute(insert(OutboxMessage), rows)
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(text("VACUUM ANALYZE outbox"))


def relay_rate(
    url: str, n: int, *, batch_size: int, warm_up: int = 0, profile: bool = False
) -> RelayResult:
    """Time ``Relay.relay_batch`` until ``n`` pre-filled outbox rows are published.

    ``warm_up`` rows go through the same engine and connection first, untimed, so
    that statement compilation and connection set-up are not counted.
    """
    db = Database(url, pool_size=2)
    try:
        purge_queues([BENCH_QUEUE])
        inner = (
            _ProfiledPublisher(rabbitmq_url(), exchanges=[EVENTS_EXCHANGE])
            if profile
            else PipelinedPublisher(rabbitmq_url(), exchanges=[EVENTS_EXCHANGE])
        )
        inner.connect()
        if warm_up:
            fill_outbox(db, warm_up)
            warm = Relay(db, inner, events_exchange=EVENTS_EXCHANGE, batch_size=batch_size)
            drain(warm, timeout_s=60)
            _expect_stored(warm_up)
        fill_outbox(db, n)
        publisher = _TimedPublisher(inner)
        relay = Relay(db, publisher, events_exchange=EVENTS_EXCHANGE, batch_size=batch_size)
        timer = _StatementTimer()
        timer.attach(db)
        main_profile = cProfile.Profile() if profile else None
        total = batches = 0
        max_batches = n // batch_size + 10
        gc.collect()  # start both figures with the same clean heap
        started = time.perf_counter()
        deadline = time.monotonic() + PHASE_TIMEOUT_S
        if main_profile is not None:
            main_profile.enable()
        try:
            while batches < max_batches and time.monotonic() < deadline:
                published = relay.relay_batch()
                batches += 1
                total += published
                if published == 0:
                    break
        finally:
            if main_profile is not None:
                main_profile.disable()
            seconds = time.perf_counter() - started
            publisher.close()
        if total != n:
            raise BenchError(f"relay published {total} of {n} rows in {batches} batches")
        _expect_stored(n)
        report = ""
        if isinstance(inner, _ProfiledPublisher) and main_profile is not None:
            report = _profile_report(main_profile, "relay thread (DB, rows->messages)")
            report += _profile_report(inner.io_profile, "pika I/O-loop thread (publish, confirms)")
        return RelayResult(
            messages=total,
            seconds=seconds,
            batch_size=batch_size,
            batches=batches,
            publish_s=publisher.seconds,
            select_s=timer.select_s,
            update_s=timer.update_s,
            commit_s=timer.commit_s,
            profile=report,
        )
    finally:
        db.dispose()


def _profile_report(profile: cProfile.Profile, title: str, top: int = 18) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    # Drop pstats' preamble up to the column header.
    header = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    body = "\n".join("    " + line for line in lines[header:])
    return f"  cProfile, {title}, top {top} by own time:\n{body}\n"
