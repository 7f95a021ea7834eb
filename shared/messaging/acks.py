"""RabbitMQ acknowledgements sent together: one frame for many messages.

Dramatiq's RabbitMQ consumer sends one ``basic.ack`` per message, each through its own
callback on the consumer thread's connection: for every message a wake-up of that
thread, a frame marshalled by pika, and a write to the socket. Here a worker thread
that is done with a message only notes its delivery tag and, unless one is pending
already, asks the consumer thread for a flush. A flush sends what was noted by then:

1. the rejections (``basic.nack``, not requeued: Dramatiq's dead-letter path), one by one;
2. the finished messages delivered before every message still in progress, with one
   ``basic.ack`` that has ``multiple`` set: RabbitMQ reads it as "every delivery on this
   channel up to this tag" (tags grow with each delivery);
3. the other finished messages one by one, so that a slow message holds back no
   acknowledgement, and no prefetch slot, but its own.

The frames of a flush are only buffered, and go out with the consumer thread's next
turn of its I/O loop, at once (pika's blocking channel would run the loop until the
socket took each frame). Under load a flush settles several messages; when they
trickle in, one. What an acknowledgement means does not change: it goes out after the
actor and the middleware are done with the message, and one lost with the connection
means the message is delivered again, as before (werving's workers are idempotent on
the command id).
"""

from __future__ import annotations

import threading
from typing import Any

import pika.exceptions
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer
from dramatiq.errors import ConnectionClosed


class BatchingConsumer(_RabbitmqConsumer):
    """Dramatiq's RabbitMQ consumer, settling messages in flushes (module docstring).

    ``known_tags`` (Dramatiq's) holds the messages delivered and not yet settled; the
    consumer thread adds to it, a worker thread removes from it when it notes a tag.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self._lock = threading.Lock()  # known_tags removals, the notes, the pending flag
        self._acked: list[int] = []
        self._nacked: list[int] = []
        self._flush_pending = False

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
            first = not self._flush_pending
            self._flush_pending = True
        if first:
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
