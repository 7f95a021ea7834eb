"""Dramatiq middleware: per-message log context, dead letters copied into the database, and
the delivery limit."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any
from uuid import UUID

import dramatiq
import structlog
from dramatiq.common import q_name
from dramatiq.middleware import Middleware, MiddlewareError
from sqlalchemy.exc import SQLAlchemyError

from shared.db.availability import retried_while_unavailable
from shared.errors import PermanentError
from shared.messaging.consumer import DeliveredMessage
from shared.messaging.delivery_attempts import DeliveryAttempts, limit_reached_reason
from shared.messaging.limits import MAX_REDELIVERIES

log = structlog.get_logger(__name__)

FailureRecorder = Callable[[dramatiq.MessageProxy, BaseException], None]


def _ids_of(message: dramatiq.MessageProxy) -> dict[str, str]:
    """The command and organisation ids of a werving message, when it has them."""
    args = message.args
    if args and isinstance(args[0], dict):
        return {k: str(args[0][k]) for k in ("command_id", "organisation_id") if k in args[0]}
    return {}


class LogContext(Middleware):
    """Bind message id, actor, command id and organisation for every log line of a message."""

    def before_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.MessageProxy
    ) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            message_id=message.message_id,
            actor_name=message.actor_name,
            queue=message.queue_name,
            **_ids_of(message),
        )

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        structlog.contextvars.clear_contextvars()


class DeadLetterRecorder(Middleware):
    """Hand every message that Dramatiq gives up on (retries exhausted or a
    permanent error) to the recorder registered for its queue, which stores it
    with its reason.

    Must come before ``Retries`` in the middleware list: "after" hooks run in
    reverse order, and Retries decides whether a message failed.
    """

    def __init__(self) -> None:
        self._recorders: dict[str, FailureRecorder] = {}

    def register(self, queue: str, record: FailureRecorder) -> None:
        self._recorders[queue] = record

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None or not message.failed:
            return
        record = self._recorders.get(q_name(message.queue_name))
        if record is None:
            log.error(
                "dead_letter.no_recorder", queue=message.queue_name, message_id=message.message_id
            )
            return
        try:
            # On this worker thread's kept connection, which a database restart leaves
            # dead: tried again on a fresh one, and while the database is away.
            retried_while_unavailable(partial(record, message, exception), what="dead letter")
        except Exception:
            # The message still reaches Dramatiq's .XQ queue; say loudly that
            # the copy in the database is missing.
            log.exception("dead_letter.record_failed", message_id=message.message_id)


class DeliveryLimitReachedError(PermanentError, MiddlewareError):
    """A redelivered message started too often; a MiddlewareError, so that Dramatiq lets it
    out of the "before" hooks and the message is failed and dead-lettered, not run."""

    def __init__(self, reason: str) -> None:
        PermanentError.__init__(self, reason)


class DeliveryLimit(Middleware):
    """Dead-letter a message RabbitMQ keeps delivering again (shared.messaging.delivery_attempts).

    Last in the middleware list: its "before" hook refuses the message after the others
    have run, and every "after" hook then sees a failed message, Retries first.
    """

    def __init__(self, max_redeliveries: int = MAX_REDELIVERIES) -> None:
        self._max = max_redeliveries
        self._attempts: dict[str, DeliveryAttempts] = {}

    def register(self, queue: str, attempts: DeliveryAttempts) -> None:
        self._attempts[queue] = attempts

    def _attempts_of(self, message: dramatiq.MessageProxy) -> DeliveryAttempts | None:
        if not isinstance(message, DeliveredMessage) or not message.redelivered:
            return None
        return self._attempts.get(q_name(message.queue_name))

    def before_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.MessageProxy
    ) -> None:
        attempts = self._attempts_of(message)
        if attempts is None:
            return
        try:
            starts = attempts.started(message.message_id)
        except SQLAlchemyError as exc:  # not counted: the message runs (and meets the same)
            log.warning("delivery.count_failed", error=type(exc).__name__)
            return
        if starts > self._max:
            log.error("delivery.limit_reached", starts=starts)
            raise DeliveryLimitReachedError(limit_reached_reason(starts))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        attempts = self._attempts_of(message)
        if attempts is None:
            return
        try:
            attempts.settled(message.message_id)
        except SQLAlchemyError as exc:  # the count stays until the housekeeping sweeps it
            log.warning("delivery.count_kept", error=type(exc).__name__)

    after_skip_message = after_process_message


def _uuid_or_none(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None


def describe_failure(message: dramatiq.MessageProxy, exception: BaseException) -> dict[str, Any]:
    """The columns of a dead-letter row for a failed Dramatiq message."""
    ids = _ids_of(message)
    return {
        "queue": message.queue_name,
        "actor_name": message.actor_name,
        "message_id": message.message_id,
        "reason": f"{type(exception).__name__}: {exception}",
        "body": json.dumps(message.asdict(), default=str),
        "organisation_id": _uuid_or_none(ids.get("organisation_id")),
        "command_id": _uuid_or_none(ids.get("command_id")),
    }
