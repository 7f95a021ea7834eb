"""Accepting a command, the same way for HTTP and AMQP: validate (done by the
models), deduplicate by idempotency key, store the command and its outbox row."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy.orm import Session

from services.command_api.idempotency import KeyReused, Response, fingerprint, respond_once
from shared.commands import COMMAND_ADAPTER, AnyCommand, CommandMessage, RegisterApplication
from shared.db.models import CommandRecord
from shared.ids import new_id
from shared.messaging.outbox import enqueue_command
from shared.statuses import CommandStatus

Source = Literal["http", "amqp", "cli", "retention"]


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


class InvalidBulkCommandError(ValueError):
    """The bulk request's command is invalid for every application alike."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid command")
        self.errors = errors


def derived_key(bulk_key: str, application_id: UUID) -> str:
    """Each application's command gets a key of its own, derived from the request's."""
    return f"{bulk_key}/{application_id}"


def accept_bulk(
    session: Session,
    *,
    organisation_id: UUID,
    idempotency_key: str,
    command: dict[str, Any],
    application_ids: list[UUID],
    retention: timedelta,
    source: Source = "http",
) -> Response:
    """Fan one command out over many applications: one command, and outcome, each."""
    if "application_id" in command or command.get("type") == "register_application":
        raise InvalidBulkCommandError(
            [
                {
                    "loc": ("command", "type"),
                    "type": "bulk",
                    "msg": "this command cannot be sent in bulk",
                }
            ]
        )
    commands = []
    for application_id in application_ids:
        try:
            commands.append(
                COMMAND_ADAPTER.validate_python({**command, "application_id": str(application_id)})
            )
        except ValidationError as exc:
            raise InvalidBulkCommandError(
                [{**e, "loc": ("command", *e["loc"][1:])} for e in exc.errors()]
            ) from None

    def produce() -> Response:
        items = []
        for application_id, one in zip(application_ids, commands, strict=True):
            key = derived_key(idempotency_key, application_id)
            try:
                response = accept_command(
                    session,
                    organisation_id=organisation_id,
                    idempotency_key=key,
                    command=one,
                    source=source,
                    retention=retention,
                )
            except KeyReused:
                items.append(
                    {
                        "application_id": str(application_id),
                        "idempotency_key": key,
                        "status": "refused",
                        "code": "idempotency_key_reused",
                        "message": "this derived key was used for a different command",
                    }
                )
                continue
            items.append({**response.body, "idempotency_key": key})
        return Response(202, {"count": len(items), "items": items})

    return respond_once(
        session,
        organisation_id=organisation_id,
        key=idempotency_key,
        request_fingerprint=fingerprint(
            "bulk", {"command": command, "application_ids": [str(i) for i in application_ids]}
        ),
        retention=retention,
        produce=produce,
    )
