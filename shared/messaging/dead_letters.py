"""Recording dead letters, so that none expires unseen in a ``.XQ`` queue."""

from __future__ import annotations

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
    body: str,
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
        body=body,
    )
    session.add(letter)
    return letter
