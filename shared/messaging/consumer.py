"""werving's RabbitMQ consumer for Dramatiq: strict about what it hands over, acknowledging
in batches, through pika's public API only.

Plugged in through Dramatiq's ``consumer_class`` hook. Each delivery is screened
(``shared.messaging.screening``) on the consumer thread before Dramatiq sees it; one
that no worker may run is stored as a dead letter with its reason and acknowledged, and
the consumer goes on.

Acknowledgements: Dramatiq's stock consumer sends one ``basic.ack`` per message, each
through its own callback on the consumer thread's connection. Here a worker thread that
is done with a message only notes its delivery tag. The consumer thread flushes the notes
whenever it comes back from the socket (with a delivery, or after its idle timeout,
Dramatiq's ``worker_timeout``: 1 s), and is woken for a flush
(``add_callback_threadsafe``) only when a quarter of the prefetch window is noted, or a
rejection. A flush sends what was noted by then:

1. the rejections (``basic.nack``, not requeued: Dramatiq's dead-letter path), one by one;
2. the finished messages delivered before every message still in progress, with one
   ``basic.ack`` that has ``multiple`` set: RabbitMQ reads it as "every delivery on this
   channel up to this tag" (tags grow with each delivery);
3. the other finished messages one by one, so that a slow message holds back no
   acknowledgement, and no prefetch slot, but its own.

An acknowledgement still goes out after the actor and the middleware are done with the
message; one lost with the connection means the message is delivered again (werving's
workers are idempotent on the command id). An idle worker's last acknowledgements may
wait up to the idle timeout. Closing the consumer flushes what is left.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

import dramatiq
import pika
import pika.exceptions
import structlog
from dramatiq.broker import Consumer
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.common import q_name
from dramatiq.errors import ConnectionClosed

from shared.messaging.screening import Refusal, screen

log = structlog.get_logger(__name__)

_CONNECTION_ERRORS: Final = (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError)

# pika decodes a message's header table recursively, two Python frames a level. A table
# nested as deep as a frame of 128 KiB allows (about 18,700 levels) needs about 37,500; at
# Python's default limit of 1,000 such a header breaks the connection before the
# consumer sees the message, and RabbitMQ delivers it again, for ever. Python 3.11 runs
# Python-to-Python calls without the C stack. C code that recurses under the same limit
# (the json module) overflows an 8 MiB thread stack only past 60,000 levels here; werving
# parses untrusted JSON with pydantic's parser, which stops at a depth of its own.
RECURSION_LIMIT_FOR_HEADERS: Final = 40_000

# Stores a refused delivery as a dead letter: the queue it came from, its body, why.
RefusalRecorder = Callable[[str, bytes, Refusal], None]


def allow_any_amqp_headers() -> None:
    """Let pika decode any header table a frame can hold (see RECURSION_LIMIT_FOR_HEADERS)."""
    if sys.getrecursionlimit() < RECURSION_LIMIT_FOR_HEADERS:
        sys.setrecursionlimit(RECURSION_LIMIT_FOR_HEADERS)


class DeliveredMessage(dramatiq.MessageProxy):
    """A message as RabbitMQ delivered it to a ``ScreeningConsumer`` (``consumer``)."""

    def __init__(
        self,
        message: dramatiq.Message[Any],
        *,
        delivery_tag: int,
        redelivered: bool,
        consumer: ScreeningConsumer,
    ) -> None:
        super().__init__(message)
        self.delivery_tag = delivery_tag
        self.redelivered = redelivered
        self.consumer = consumer


class ScreeningConsumer(Consumer):
    """Consumes one queue for Dramatiq's worker (module docstring)."""

    def __init__(
        self, broker: WervingRabbitmqBroker, queue_name: str, prefetch: int, timeout: int
    ) -> None:
        self.broker = broker
        self.queue_name = queue_name
        self._lock = threading.Lock()  # the tags in progress, the notes, the pending flag
        self._in_progress: set[int] = set()  # handed to Dramatiq, not yet noted
        self._acked: list[int] = []
        self._nacked: list[int] = []
        self._flush_pending = False
        self._wake_at = max(1, prefetch // 4)
        try:
            self.connection = pika.BlockingConnection(broker.parameters)
            self.channel = self.connection.channel()
            self.channel.basic_qos(prefetch_count=prefetch)
            self._deliveries = self.channel.consume(queue_name, inactivity_timeout=timeout / 1000)
        except _CONNECTION_ERRORS as exc:
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]

    def __next__(self) -> DeliveredMessage | None:
        try:
            method, properties, body = next(self._deliveries)
        except (AssertionError, *_CONNECTION_ERRORS) as exc:
            if getattr(exc, "reply_code", None) == 404:  # the queue is gone: declare it again
                self.broker.queues_pending.add(q_name(self.queue_name))
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]
        message = None
        if method is not None:
            message = self._admit(method, properties, body)
        if self._acked or self._nacked:
            self._flush_guarded()
        return message

    def _admit(
        self, method: pika.spec.Basic.Deliver, properties: pika.BasicProperties, body: bytes
    ) -> DeliveredMessage | None:
        tag = method.delivery_tag
        verdict = screen(
            body,
            self.queue_name,
            self.broker,
            content_type=properties.content_type,
            content_encoding=properties.content_encoding,
        )
        if isinstance(verdict, Refusal):
            if verdict.message_id is None and isinstance(properties.message_id, str):
                verdict = replace(verdict, message_id=properties.message_id)
            stored = self.broker.record_refusal(self.queue_name, body, verdict)
            with self._lock:
                # Unstored, it goes to Dramatiq's .XQ queue rather than be lost.
                (self._acked if stored else self._nacked).append(tag)
            return None
        with self._lock:
            self._in_progress.add(tag)
        return DeliveredMessage(
            verdict, delivery_tag=tag, redelivered=bool(method.redelivered), consumer=self
        )

    def ack(self, message: dramatiq.MessageProxy) -> None:
        self._note(message, self._acked)

    def nack(self, message: dramatiq.MessageProxy) -> None:
        self._note(message, self._nacked)

    def requeue(self, messages: Any) -> None:
        """RabbitMQ requeues what was not acknowledged when the channel closes."""

    def _note(self, message: dramatiq.MessageProxy, notes: list[int]) -> None:
        if not isinstance(message, DeliveredMessage):
            log.warning("consumer.foreign_message", queue=self.queue_name)
            return
        tag = message.delivery_tag
        with self._lock:
            if message.consumer is not self or tag not in self._in_progress:
                # Delivered on a channel closed since: RabbitMQ delivers it again. Its tag
                # means nothing here: tags start again at 1 on every channel, so this
                # consumer's own delivery of the same number would be settled instead.
                log.warning("consumer.unknown_delivery", queue=self.queue_name, tag=tag)
                return
            self._in_progress.remove(tag)  # out and into the notes at once: a flush sees it
            notes.append(tag)
            wake = not self._flush_pending and (
                notes is self._nacked or len(self._acked) >= self._wake_at
            )
            if wake:
                self._flush_pending = True
        if wake:
            try:
                self.connection.add_callback_threadsafe(self._flush)
            except _CONNECTION_ERRORS as exc:
                raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]

    def _flush_guarded(self) -> None:
        try:
            self._flush()
        except _CONNECTION_ERRORS as exc:
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]

    def _flush(self) -> None:
        """Send the noted settlements; on the thread that owns the connection."""
        with self._lock:
            acked, self._acked = sorted(self._acked), []
            nacked, self._nacked = self._nacked, []
            self._flush_pending = False
            # Read under the lock: a tag noted after this is still in it, or in the notes.
            in_progress = min(self._in_progress, default=None)
        for tag in nacked:
            self.channel.basic_nack(tag, requeue=False)
        in_order = [tag for tag in acked if in_progress is None or tag < in_progress]
        if in_order:
            self.channel.basic_ack(in_order[-1], multiple=True)
        for tag in acked[len(in_order) :]:
            self.channel.basic_ack(tag)

    def close(self) -> None:
        """Flush what is noted and close. Called once no thread consumes any more; later
        notes are dropped, and RabbitMQ delivers their messages again."""
        try:
            if self.connection.is_open:
                self._flush()
        except _CONNECTION_ERRORS:
            log.warning("consumer.flush_on_close_failed", queue=self.queue_name)
        with self._lock:
            self._in_progress.clear()
        try:
            if self.channel.is_open:
                self.channel.close()
            if self.connection.is_open:
                self.connection.close()
        except (AssertionError, *_CONNECTION_ERRORS) as exc:
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]


class WervingRabbitmqBroker(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker with werving's consumer, and the recorder of refused
    deliveries for each queue."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._refusal_recorders: dict[str, RefusalRecorder] = {}

    @property
    def consumer_class(self) -> type[ScreeningConsumer]:
        return ScreeningConsumer

    def on_refusal(self, queue: str, record: RefusalRecorder) -> None:
        """Store the refused deliveries of ``queue`` (and its delay queue) with ``record``."""
        self._refusal_recorders[queue] = record

    def record_refusal(self, queue_name: str, body: bytes, refusal: Refusal) -> bool:
        """Store a refused delivery; False when it could not be stored."""
        log.warning(
            "consumer.refused",
            queue=queue_name,
            reason=refusal.reason,
            message_id=refusal.message_id,
            size=len(body),
        )
        record = self._refusal_recorders.get(q_name(queue_name))
        if record is None:
            log.error("dead_letter.no_recorder", queue=queue_name)
            return False
        try:
            record(queue_name, body, refusal)
        except Exception:
            # Nacked instead, into Dramatiq's .XQ queue: say loudly that the copy in the
            # database is missing.
            log.exception("dead_letter.record_failed", queue=queue_name)
            return False
        return True
