"""Where the relay hands messages: RabbitMQ with pipelined confirms, or the in-process broker."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol
from uuid import UUID

import dramatiq
import pika
import structlog
from pika.channel import Channel
from pika.spec import Basic, BasicProperties

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish. ``exchange`` "" with a queue name as routing key is a worker task."""

    id: UUID
    exchange: str
    routing_key: str
    body: bytes


class PublishError(Exception):
    """The publisher lost its connection or the broker did not confirm in time."""


class Publisher(Protocol):
    def publish(self, messages: Sequence[Outgoing]) -> dict[UUID, str | None]:
        """Publish all, returning each message's failure reason (None when confirmed)."""
        ...

    def close(self) -> None: ...


@dataclass
class _Batch:
    remaining: int
    results: dict[UUID, str | None] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


class PipelinedPublisher:
    """Publishes a whole batch before waiting, then waits once for all its confirms.

    pika's ``SelectConnection`` runs its I/O loop on a thread of its own; the
    caller's thread hands batches over with ``add_callback_threadsafe``, the only
    thread-safe entry into pika. Messages are persistent; tasks are ``mandatory``,
    so a task that reaches no queue comes back as a failure instead of vanishing.
    """

    def __init__(self, url: str, *, exchanges: Sequence[str] = (), confirm_timeout_s: float = 30):
        self._parameters = pika.URLParameters(url)
        self._exchanges = tuple(exchanges)
        self._confirm_timeout_s = confirm_timeout_s
        self._connection: pika.SelectConnection | None = None
        self._channel: Channel | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: str | None = None
        self._next_tag = 0
        self._pending: dict[int, tuple[_Batch, UUID]] = {}
        self._returned: dict[str, str] = {}

    # -- caller's thread ------------------------------------------------------

    def connect(self, timeout_s: float = 30) -> None:
        self._thread = threading.Thread(target=self._run, name="amqp-publisher", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._failure:
            self.close()
            raise PublishError(f"could not open a confirmed channel: {self._failure or 'timeout'}")

    def publish(self, messages: Sequence[Outgoing]) -> dict[UUID, str | None]:
        if not messages:
            return {}
        connection = self._connection
        if connection is None or self._failure or not self._ready.is_set():
            raise PublishError(f"not connected: {self._failure or 'connect() first'}")
        batch = _Batch(remaining=len(messages))
        try:
            connection.ioloop.add_callback_threadsafe(partial(self._publish_batch, batch, messages))
        except Exception as exc:  # the I/O loop closed meanwhile (the connection is lost)
            raise PublishError(f"not connected: {exc!r}") from None
        if not batch.done.wait(self._confirm_timeout_s):
            raise PublishError("timed out waiting for publisher confirms")
        if batch.error is not None:
            raise PublishError(batch.error)
        return batch.results

    def close(self) -> None:
        """Close the connection, whatever state it is in (never raises)."""
        connection, thread = self._connection, self._thread
        self._connection = None
        if connection is not None and thread is not None and thread.is_alive():
            with suppress(Exception):  # its I/O loop is closing already
                connection.ioloop.add_callback_threadsafe(partial(self._shutdown, connection))
            thread.join(timeout=10)

    # -- I/O loop thread ------------------------------------------------------

    def _run(self) -> None:
        self._connection = pika.SelectConnection(
            self._parameters,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
        )
        self._connection.ioloop.start()

    @staticmethod
    def _shutdown(connection: pika.SelectConnection) -> None:
        if connection.is_open:
            connection.close()
        else:
            connection.ioloop.stop()

    def _on_open(self, connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, connection: pika.SelectConnection, error: Any) -> None:
        self._failure = str(error) or type(error).__name__
        self._ready.set()
        connection.ioloop.stop()

    def _on_channel_open(self, channel: Channel) -> None:
        self._channel = channel
        channel.add_on_return_callback(self._on_return)
        channel.add_on_close_callback(self._on_channel_closed)
        channel.confirm_delivery(self._on_confirm, callback=self._declare_exchanges)

    def _declare_exchanges(self, _frame: Any, remaining: tuple[str, ...] | None = None) -> None:
        todo = self._exchanges if remaining is None else remaining
        if not todo:
            self._ready.set()
            return
        assert self._channel is not None
        self._channel.exchange_declare(
            exchange=todo[0],
            exchange_type="topic",
            durable=True,
            callback=partial(self._declare_exchanges, remaining=todo[1:]),
        )

    def _publish_batch(self, batch: _Batch, messages: Sequence[Outgoing]) -> None:
        channel = self._channel
        if channel is None or not channel.is_open:
            batch.error = "channel closed"
            batch.done.set()
            return
        try:
            for message in messages:
                channel.basic_publish(
                    exchange=message.exchange,
                    routing_key=message.routing_key,
                    body=message.body,
                    properties=BasicProperties(
                        delivery_mode=2,
                        content_type="application/json",
                        message_id=str(message.id),
                    ),
                    # A task must reach its queue; an event nobody subscribed to is fine.
                    mandatory=not message.exchange,
                )
                self._next_tag += 1
                self._pending[self._next_tag] = (batch, message.id)
        except Exception as exc:  # the channel died mid-batch; the relay will retry it all
            self._fail_pending(f"publish failed: {exc!r}")

    def _on_return(
        self, _channel: Channel, method: Basic.Return, properties: BasicProperties, _body: bytes
    ) -> None:
        # A return always precedes the confirm of the same message.
        if properties.message_id:
            self._returned[properties.message_id] = f"unroutable: {method.reply_text}"

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        acked = isinstance(method, Basic.Ack)
        tag = method.delivery_tag
        tags = [t for t in self._pending if t <= tag] if method.multiple else [tag]
        for t in tags:
            entry = self._pending.pop(t, None)
            if entry is None:
                continue
            batch, message_id = entry
            reason = self._returned.pop(str(message_id), None)
            if not acked:
                reason = "nacked by the broker"
            batch.results[message_id] = reason
            batch.remaining -= 1
            if batch.remaining == 0:
                batch.done.set()

    def _on_channel_closed(self, _channel: Channel, reason: Any) -> None:
        self._fail_pending(f"channel closed: {reason}")
        if self._connection is not None and self._connection.is_open:
            self._connection.close()

    def _on_closed(self, connection: pika.SelectConnection, reason: Any) -> None:
        self._fail_pending(f"connection closed: {reason}")
        connection.ioloop.stop()

    def _fail_pending(self, reason: str) -> None:
        self._failure = self._failure or reason
        for batch, _ in self._pending.values():
            batch.error = reason
            batch.done.set()
        self._pending.clear()


class BrokerPublisher:
    """Embedded mode: hands tasks straight to the in-process Dramatiq broker.

    Events have no subscribers in-process; they are logged (ids only).
    """

    def __init__(self, broker: dramatiq.Broker) -> None:
        self._broker = broker

    def publish(self, messages: Sequence[Outgoing]) -> dict[UUID, str | None]:
        results: dict[UUID, str | None] = {}
        for message in messages:
            if message.exchange:
                log.info(
                    "event.published", routing_key=message.routing_key, event_id=str(message.id)
                )
                results[message.id] = None
                continue
            try:
                self._broker.enqueue(dramatiq.Message.decode(message.body))
                results[message.id] = None
            except dramatiq.errors.QueueNotFound:
                results[message.id] = f"no queue {message.routing_key!r} in this process"
        return results

    def close(self) -> None:
        return None
