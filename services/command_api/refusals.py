"""Envelopes the AMQP ingress refuses: why (a code and field errors), and how their
publisher finds out: a refused entry under the key (``GET /v1/commands?idempotency_key=``)
and a ``command.refused`` event on the organisation's routing key.

A refusal holds no envelope body: the key when one could be read, the code, the field
errors (capped in number and length, with characters the database cannot store replaced)
and the AMQP ``message_id``. Refusals are kept as long as idempotency keys
(``WERVING_IDEMPOTENCY_RETENTION_HOURS``); the relay's housekeeping forgets older ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.command_api.idempotency import Response
from shared.commands.fields import IdempotencyKey
from shared.db.models import CommandRefusal
from shared.db.types import utcnow
from shared.errors import EnvelopeRefusalCode
from shared.events import CommandRefused, FieldError
from shared.ids import new_id
from shared.messaging.outbox import publish_event
from shared.messaging.routes import ROUTES

MAX_FIELD_ERRORS: Final = 20
_MAX_FIELD: Final = 200
_MAX_MESSAGE: Final = 500
_MAX_MESSAGE_ID: Final = 255
_LOOKUP_LIMIT: Final = 10

_LABELS: Final = {
    EnvelopeRefusalCode.INVALID_ENVELOPE: "invalid command envelope",
    EnvelopeRefusalCode.UNKNOWN_COMMAND_TYPE: "unknown command type",
    EnvelopeRefusalCode.INVALID_BULK: "invalid bulk command",
    EnvelopeRefusalCode.IDEMPOTENCY_KEY_REUSED: "idempotency key reused",
}
_UNKNOWN_TYPE: Final = "union_tag_invalid"
_TAG_ERRORS: Final = frozenset({_UNKNOWN_TYPE, "union_tag_not_found"})

RefusalSource = Literal["amqp"]


class EnvelopeRefused(Exception):  # noqa: N818 - a verdict on the envelope
    """The envelope cannot become a command: a code, the field errors, and its key when
    one could be read from it."""

    def __init__(
        self,
        code: EnvelopeRefusalCode,
        errors: Sequence[FieldError],
        idempotency_key: str | None = None,
    ) -> None:
        self.code = code
        self.errors = list(errors)
        self.idempotency_key = idempotency_key
        super().__init__(self.reason)

    @property
    def detail(self) -> str:
        """Each error as ``<field>: <message>``."""
        return "; ".join(f"{e.field}: {e.message}" for e in self.errors)

    @property
    def reason(self) -> str:
        """What the dead letter says."""
        if self.code is EnvelopeRefusalCode.IDEMPOTENCY_KEY_REUSED:
            return self.detail.removeprefix("idempotency_key: ")
        return f"{_LABELS[self.code]}: {self.detail}"


def invalid_envelope(
    errors: Iterable[Mapping[str, Any]], *, bulk: bool, body: bytes | str, key: str | None = None
) -> EnvelopeRefused:
    """A refusal for pydantic's errors on an envelope (or a bulk's command): its command
    type is unknown, or else the envelope or the bulk is invalid. ``key`` when known, or
    else the one readable from ``body``."""
    fields = [_field_error(e) for e in errors]
    if any(e.code == _UNKNOWN_TYPE for e in fields):
        code = EnvelopeRefusalCode.UNKNOWN_COMMAND_TYPE
    elif bulk:
        code = EnvelopeRefusalCode.INVALID_BULK
    else:
        code = EnvelopeRefusalCode.INVALID_ENVELOPE
    return EnvelopeRefused(
        code, fields[:MAX_FIELD_ERRORS], key if key is not None else readable_key(body)
    )


def key_reused(key: str, message: str) -> EnvelopeRefused:
    error = FieldError(
        field="idempotency_key",
        code=EnvelopeRefusalCode.IDEMPOTENCY_KEY_REUSED.value,
        message=message,
    )
    return EnvelopeRefused(EnvelopeRefusalCode.IDEMPOTENCY_KEY_REUSED, [error], key)


def _field_error(error: Mapping[str, Any]) -> FieldError:
    loc = [str(part) for part in error.get("loc", ())]
    if len(loc) >= 2 and loc[0] == "command" and loc[1] in ROUTES:
        del loc[1]  # the discriminator's branch, not a field of the envelope
    code = str(error.get("type", "invalid"))
    message = str(error.get("msg", ""))
    if code in _TAG_ERRORS:
        loc = [*loc, "type"]
    if code == _UNKNOWN_TYPE:
        message = "not a command type werving knows"  # the list of every type is too long
    return FieldError(
        field=_printable(".".join(loc) or "body", _MAX_FIELD),
        code=_printable(code, _MAX_FIELD),
        message=_printable(message, _MAX_MESSAGE),
    )


def _printable(text: str, limit: int) -> str:
    """``text`` cut to ``limit``, with what the database cannot store (NUL, lone
    surrogates) and other control characters replaced."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text[:limit])


class _KeyOnly(BaseModel):
    idempotency_key: IdempotencyKey


def readable_key(body: bytes | str) -> str | None:
    """The envelope's idempotency key, when the body is a JSON object with a valid one."""
    try:
        return _KeyOnly.model_validate_json(body).idempotency_key
    except ValidationError:
        return None


def storable_message_id(message_id: str | None) -> str | None:
    """The AMQP ``message_id``, unless it is too long or holds what cannot be stored."""
    if message_id and len(message_id) <= _MAX_MESSAGE_ID and message_id.isprintable():
        return message_id
    return None


def record_refusal(
    session: Session,
    *,
    organisation_id: UUID,
    refused: EnvelopeRefused,
    source: RefusalSource,
    message_id: str | None = None,
    dead_letter_id: UUID | None = None,
) -> CommandRefusal:
    """Store the refusal and announce it (``command.refused``) in the caller's transaction."""
    refusal = CommandRefusal(
        id=new_id(),
        organisation_id=organisation_id,
        idempotency_key=refused.idempotency_key,
        code=refused.code.value,
        errors=[e.model_dump() for e in refused.errors],
        source=source,
        message_id=storable_message_id(message_id),
        dead_letter_id=dead_letter_id,
        refused_at=utcnow(),
    )
    session.add(refusal)
    publish_event(
        session,
        CommandRefused(
            occurred_at=refusal.refused_at,
            organisation_id=organisation_id,
            refusal_id=refusal.id,
            idempotency_key=refusal.idempotency_key,
            message_id=refusal.message_id,
            code=refused.code,
            errors=refused.errors,
        ),
    )
    return refusal


def record_bulk_item_refusals(
    session: Session, organisation_id: UUID, response: Response, source: RefusalSource
) -> int:
    """A bulk was accepted, but some derived keys were used before for another command:
    a refusal each, under the derived key. Nothing when the bulk was only replayed."""
    if response.replayed:
        return 0
    refused = [i for i in response.body.get("items", ()) if i.get("status") == "refused"]
    for item in refused:
        record_refusal(
            session,
            organisation_id=organisation_id,
            refused=key_reused(str(item["idempotency_key"]), str(item["message"])),
            source=source,
        )
    return len(refused)


def find_refusals(session: Session, organisation_id: UUID, key: str) -> Sequence[CommandRefusal]:
    """The organisation's refusals under ``key``, newest first."""
    return session.scalars(
        select(CommandRefusal)
        .where(
            CommandRefusal.organisation_id == organisation_id,
            CommandRefusal.idempotency_key == key,
        )
        .order_by(CommandRefusal.refused_at.desc())
        .limit(_LOOKUP_LIMIT)
    ).all()


def delete_expired_refusals(session: Session, retention: timedelta) -> int:
    """Forget refusals older than ``retention`` (the idempotency keys'); returns how many."""
    expired = session.scalars(
        delete(CommandRefusal)
        .where(CommandRefusal.refused_at <= utcnow() - retention)
        .returning(CommandRefusal.id)
    ).all()
    return len(expired)
