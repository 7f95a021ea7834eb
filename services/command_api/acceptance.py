"""Accepting a command, the same way for HTTP and AMQP: validate (done by the
models), deduplicate by idempotency key, store the command and its outbox row."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal
from uuid import UUID

from sqlalchemy.orm import Session

from services.command_api.idempotency import Response, fingerprint, respond_once
from shared.commands import AnyCommand, CommandMessage, RegisterApplication
from shared.db.models import CommandRecord
from shared.ids import new_id
from shared.messaging.outbox import enqueue_command
from shared.statuses import CommandStatus

Source = Literal["http", "amqp"]


def command_location(command_id: UUID | str) -> str:
    return f"/v1/commands/{command_id}"


def accept_command(
    session: Session,
    *,
    organisation_id: UUID,
    idempotency_key: str,
    command: AnyCommand,
    source: Source,
    retention: timedelta,
) -> Response:
    """Store ``command`` as accepted and queue it, once per idempotency key.

    Never talks to the broker: the relay publishes the outbox row after commit.
    """
    payload = command.model_dump(mode="json")

    def produce() -> Response:
        # A new application's id is chosen now, so the client knows it at once.
        application_id = (
            new_id() if isinstance(command, RegisterApplication) else command.target_application_id
        )
        record = CommandRecord(
            id=new_id(),
            organisation_id=organisation_id,
            type=command.type,
            idempotency_key=idempotency_key,
            source=source,
            application_id=application_id,
            payload=payload,
            status=CommandStatus.ACCEPTED,
        )
        session.add(record)
        enqueue_command(
            session,
            command.type,
            CommandMessage(command_id=record.id, organisation_id=organisation_id),
        )
        return Response(
            202,
            {
                "command_id": str(record.id),
                "type": command.type,
                "status": CommandStatus.ACCEPTED.value,
                "application_id": str(application_id) if application_id else None,
                "location": command_location(record.id),
            },
        )

    return respond_once(
        session,
        organisation_id=organisation_id,
        key=idempotency_key,
        request_fingerprint=fingerprint("command", payload),
        retention=retention,
        produce=produce,
    )
