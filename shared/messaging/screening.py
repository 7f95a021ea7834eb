"""The strict check of a worker delivery, before Dramatiq sees it.

Dramatiq trusts its queues: a body that does not decode is only logged, a message that
names another queue is settled through another consumer's channel, options such as
``throws`` or ``on_retry_exhausted`` change what the worker thread does, and arguments
of the wrong shape reach the actor. werving's queues are written by its relay and by
Dramatiq's own retries; anything else that lands on one is refused here with a reason
naming the field, and the consumer stores it as a dead letter.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import dramatiq
from dramatiq.common import current_millis, dq_name, q_name
from dramatiq.errors import ActorNotFound
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.messaging.limits import MAX_BACKOFF_MS

# werving's messages carry ids; a retried one also carries Dramatiq's traceback (30
# frames at most). Nothing of werving's comes near this; a body over it is not parsed.
MAX_MESSAGE_BYTES: Final = 1024 * 1024
# An eta further ahead than the longest backoff is no retry of werving's: the message
# would sit unacknowledged until RabbitMQ's consumer timeout closed the channel.
ETA_SLACK_MS: Final = 60_000


class _Options(BaseModel):
    """The options Dramatiq's retries and delays set; no other may steer a worker."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    eta: int | float | None = None
    retries: int | None = Field(default=None, ge=0)
    traceback: str | None = None
    requeue_timestamp: int | None = None


class _DramatiqMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    queue_name: str = Field(max_length=120)
    actor_name: str = Field(max_length=120)
    args: list[Any]
    kwargs: dict[str, Any]
    options: _Options
    message_id: str = Field(min_length=1, max_length=120)
    message_timestamp: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """A delivery no worker may run, and why; what is known of it, for its dead letter."""

    reason: str
    message_id: str | None = None
    actor_name: str | None = None


def content_refusal(content_type: object, content_encoding: object) -> str | None:
    """Why a message's content properties rule it out, if they do: werving's messages are
    JSON (the property may be absent), never compressed or otherwise encoded."""
    if content_type is not None:
        media_type = content_type.split(";", 1)[0].strip() if isinstance(content_type, str) else ""
        if media_type.lower() != "application/json":
            return f"content_type: {_shown(content_type)} is not application/json"
    if content_encoding not in (None, ""):
        return f"content_encoding: {_shown(content_encoding)} is not supported"
    return None


def _shown(value: object) -> str:
    return repr(value)[:80]


def screen(
    body: bytes,
    queue_name: str,
    broker: dramatiq.Broker,
    *,
    content_type: object = None,
    content_encoding: object = None,
) -> dramatiq.Message[Any] | Refusal:
    """The message ``body`` holds, if a worker consuming ``queue_name`` may run it."""
    if (refused := content_refusal(content_type, content_encoding)) is not None:
        return Refusal(refused)
    if len(body) > MAX_MESSAGE_BYTES:
        return Refusal(f"body of {len(body)} bytes is over the limit of {MAX_MESSAGE_BYTES}")
    try:
        # pydantic's parser bounds nesting and reads bytes as UTF-8 strictly.
        fields = _DramatiqMessage.model_validate_json(body)
    except ValidationError as invalid:
        return Refusal(f"not a Dramatiq message: {describe(invalid)}")
    except Exception as exc:  # anything else the parser may raise: still a refusal
        return Refusal(f"not a Dramatiq message: {type(exc).__name__}")
    reason = _misfit(fields, queue_name, broker)
    if reason is not None:
        return Refusal(reason, fields.message_id, fields.actor_name)
    return dramatiq.Message(
        queue_name=fields.queue_name,
        actor_name=fields.actor_name,
        args=tuple(fields.args),
        kwargs=fields.kwargs,
        options=fields.options.model_dump(exclude_none=True),
        message_id=fields.message_id,
        message_timestamp=fields.message_timestamp,
    )


def _misfit(fields: _DramatiqMessage, queue_name: str, broker: dramatiq.Broker) -> str | None:
    if fields.queue_name != queue_name:
        return f"queue_name: {fields.queue_name!r} was delivered on queue {queue_name!r}"
    try:
        actor = broker.get_actor(fields.actor_name)
    except ActorNotFound:
        return f"actor_name: no actor {fields.actor_name!r} on queue {q_name(queue_name)!r}"
    if actor.queue_name != q_name(queue_name):
        return f"actor_name: no actor {fields.actor_name!r} on queue {q_name(queue_name)!r}"
    for name in sorted(fields.options.model_fields_set):
        if getattr(fields.options, name) is None:
            return f"options.{name}: null"
    eta = fields.options.eta
    if queue_name == dq_name(queue_name):
        if eta is None:
            return "options.eta: required on a delay queue"
        if eta > current_millis() + MAX_BACKOFF_MS + ETA_SLACK_MS:
            return f"options.eta: more than {MAX_BACKOFF_MS} ms ahead"
    elif eta is not None:
        return "options.eta: only a delay queue's messages have one"
    try:
        _signature(actor.fn).bind(*fields.args, **fields.kwargs)
    except TypeError as exc:
        return f"args: do not fit actor {fields.actor_name!r}: {exc}"
    return None


@cache
def _signature(fn: Any) -> inspect.Signature:
    return inspect.signature(fn)


SHOWN_ERRORS: Final = 10


def describe(error: ValidationError) -> str:
    """The first errors as ``<dotted field>: <message>``, without the input (it may be
    huge); a hostile body can hold thousands."""
    errors = error.errors(include_url=False, include_input=False)
    shown = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])[:100] or 'body'}: {e['msg']}"
        for e in errors[:SHOWN_ERRORS]
    )
    more = len(errors) - SHOWN_ERRORS
    return f"{shown}; and {more} more" if more > 0 else shown
