"""RabbitMQ acknowledgements sent together: one frame for many messages.

Dramatiq's RabbitMQ consumer sends one ``basic.ack`` per message, each through its own
callback on the consumer thread's connection: for every message a wake-up of that
thread, a frame marshalled by pika, and a write to the socket. Here a worker thread
that is done with a message only notes its delivery tag. The consumer thread flushes
the notes whenever it comes back from the socket (with deliveries, or after its idle
timeout, Dramatiq's ``worker_timeout``: 1 s), and is woken for a flush only when a
quarter of the prefetch window is noted, or a rejection: RabbitMQ then has room to send
more before the worker threads run out. A flush sends what was noted by then:

1. the rejections (``basic.nack``, not requeued: Dramatiq's dead-letter path), one by one;
2. the finished messages delivered before every message still in progress, with one
   ``basic.ack`` that has ``multiple`` set: RabbitMQ reads it as "every delivery on this
   channel up to this tag" (tags grow with each delivery);
3. the other finished messages one by one, so that a slow message holds back no
   acknowledgement, and no prefetch slot, but its own.

The frames of a flush are only buffered, and go out with the consumer thread's next
turn of its I/O loop, at once (pika's blocking channel would run the loop until the
socket took each frame). Closing the consumer flushes what is left. What an
acknowledgement means does not change: it goes out after the actor and the middleware
are done with the message, and one lost with the connection means the message is
delivered again, as before (werving's workers are idempotent on the command id); an
idle worker's last acknowledgements may wait up to the idle timeout.
"""

from __future__ import annotations

import threading
from contextlib import suppress
from typing import Any

import pika.exceptions
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer
from dramatiq.errors import ConnectionClosed


class BatchingConsumer(_RabbitmqConsumer):
    """Dramatiq's RabbitMQ consumer, settling messages in flushes (module docstring).

    ``known_tags`` (Dramatiq's) holds the messages delivered and not yet settled; the
    consumer thread adds to it, a worker thread removes from it when it notes a tag.
    """

    def __init__(
        self, broker: RabbitmqBroker, queue_name: str, prefetch: int, timeout: int
    ) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        self._lock = threading.Lock()  # known_tags removals, the notes, the pending flag
        self._acked: list[int] = []
        self._nacked: list[int] = []
        self._flush_pending = False
        self._wake_at = max(1, prefetch // 4)  # notes that wake the consumer thread

    def __next__(self) -> Any:
        # Back from the socket, with a delivery or from the idle timeout: flush here.
        message = super().__next__()  # type: ignore[no-untyped-call]
        if self._acked or self._nacked:
            try:
                self._flush()
            except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as e:
                raise ConnectionClosed(e) from None  # type: ignore[no-untyped-call]
        return message

    def close(self) -> None:
        with self._lock:
            left = bool(self._acked or self._nacked)
        # The parent's close runs the callbacks asked for; with the connection gone, the
        # notes are too, and their messages are delivered again, as any unacknowledged.
        if left:
            with suppress(ConnectionClosed):
                self._ask_for_flush()
        super().close()  # type: ignore[no-untyped-call]

    def ack(self, message: Any) -> None:
        self._note(message._tag, self._acked)

    def nack(self, message: Any) -> None:
        self._note(message._tag, self._nacked)

    def _nack(self, tag: int) -> None:
        # The parent's path for a delivery that does not decode (never in known_tags):
        # through a flush too, so that no multiple ack can cover it first.
        self._note(tag, self._nacked, known=False)

    def _note(self, tag: int, notes: list[int], *, known: bool = True) -> None:
        with self._lock:
            if known:
                if tag not in self.known_tags:
                    self.logger.warning("Failed to settle message %d: not in known tags.", tag)
                    return
                # Out of known_tags and into the notes at once: a flush sees it in one.
                self.known_tags.remove(tag)
            notes.append(tag)
            wake = not self._flush_pending and (
                notes is self._nacked or len(self._acked) >= self._wake_at
            )
            if wake:
                self._flush_pending = True
        if wake:
            self._ask_for_flush()

    def _ask_for_flush(self) -> None:
        try:
            self.connection.add_callback_threadsafe(self._flush)
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as e:
            raise ConnectionClosed(e) from None  # type: ignore[no-untyped-call]

    def _flush(self) -> None:
        """Send the noted acknowledgements; runs on the consumer thread."""
        with self._lock:
            acked, self._acked = sorted(self._acked), []
            nacked, self._nacked = self._nacked, []
            self._flush_pending = False
            # Read under the lock: a tag noted after this is still in it, or in the notes.
            in_progress = min(self.known_tags, default=None)
        # pika's channel under the blocking one only buffers each frame, for the I/O
        # loop's next run (this thread's next read, at once); the blocking channel's
        # methods would also run the loop until the socket took it, for every frame.
        frames = self.channel._impl
        for tag in nacked:
            frames.basic_nack(tag, requeue=False)
        settled_in_order = [tag for tag in acked if in_progress is None or tag < in_progress]
        if settled_in_order:
            frames.basic_ack(settled_in_order[-1], multiple=True)
        for tag in acked[len(settled_in_order) :]:
            frames.basic_ack(tag)


class BatchingRabbitmqBroker(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker, its consumers acknowledging in batches."""

    @property
    def consumer_class(self) -> type[BatchingConsumer]:
        return BatchingConsumer
