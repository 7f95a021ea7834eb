"""Recording dead letters, so that none expires unseen in a ``.XQ`` queue."""

from __future__ import annotations

import base64
from uuid import UUID

from sqlalchemy.orm import Session

from shared.db.models import DeadLetter
from shared.ids import new_id


def record_dead_letter(
    session: Session,
    *,
    source: str,
    queue: str,
    reason: str,
    body: str | bytes,
    actor_name: str | None = None,
    message_id: str | None = None,
    organisation_id: UUID | None = None,
    command_id: UUID | None = None,
) -> DeadLetter:
    letter = DeadLetter(
        id=new_id(),
        source=source,
        queue=queue,
        actor_name=actor_name,
        message_id=message_id,
        organisation_id=organisation_id,
        command_id=command_id,
        reason=reason[:4000],
        **storable_body(body),
    )
    session.add(letter)
    return letter


def storable_body(body: str | bytes) -> dict[str, str]:
    """The body as text when it can be stored as such, else base64, never altered."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return {"body": base64.b64encode(body).decode(), "body_encoding": "base64"}
    else:
        text = body
    if "\x00" in text:
        return {"body": base64.b64encode(text.encode()).decode(), "body_encoding": "base64"}
    return {"body": text, "body_encoding": "utf-8"}
