"""Writing to the outbox, inside the caller's transaction.

Outbox rows are append-only: they are queued on the session and inserted together
when it commits (``shared.db.deferred_writes``), never read back in the same transaction.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from shared.commands.envelope import CommandMessage
from shared.db.deferred_writes import append
from shared.db.models import OutboxMessage
from shared.db.types import JSONText
from shared.events import Event
from shared.ids import new_id
from shared.messaging.routes import Route, route_for

TASK = "task"
EVENT = "event"


def enqueue_task(
    session: Session, route: Route, organisation_id: UUID, payload: dict[str, Any]
) -> None:
    """Queue a message (ids only) for a worker's actor; the relay publishes it after commit."""
    append(
        session,
        OutboxMessage,
        {
            "id": new_id(),
            "organisation_id": organisation_id,
            "kind": TASK,
            "destination": route.queue,
            "actor_name": route.actor,
            "payload": payload,
        },
    )


def enqueue_command(session: Session, command_type: str, message: CommandMessage) -> None:
    """Queue a command for the worker its route names."""
    enqueue_task(
        session,
        route_for(command_type),
        message.organisation_id,
        message.model_dump(mode="json"),
    )


def publish_event(session: Session, event: Event) -> None:
    """Announce a change to subscribers, only if the surrounding transaction commits."""
    append(
        session,
        OutboxMessage,
        {
            "id": event.event_id,
            "organisation_id": event.organisation_id,
            "kind": EVENT,
            "destination": event.name,
            "actor_name": None,
            # pydantic's own serializer: no dict of JSON values built to be encoded again
            "payload": JSONText(event.model_dump_json()),
        },
    )
