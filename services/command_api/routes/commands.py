"""``/v1/commands``: submit a command, follow its outcome."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from services.command_api.acceptance import accept_command
from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import DatabaseDep, IdempotencyKeyDep, SettingsDep, require
from services.command_api.problems import ProblemError
from services.command_api.refusals import find_refusals
from services.command_api.responses import (
    NOT_FOUND,
    idempotency_problems,
    idempotent_response,
)
from services.command_api.schemas import (
    CommandAccepted,
    CommandEntry,
    CommandRefusalView,
    CommandView,
)
from shared.commands import AnyCommand
from shared.db.models import CommandRecord, CommandRefusal
from shared.db.models.commands import STORED_KEY_LENGTH

router = APIRouter(prefix="/v1/commands", tags=["commands"])


@router.post(
    "",
    status_code=202,
    response_model=CommandAccepted,
    summary="Submit a recruiter action",
)
def submit_command(
    command: Annotated[AnyCommand, Body(discriminator="type")],
    principal: Annotated[Principal, Depends(require(Scope.COMMANDS_WRITE))],
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Accept a command for asynchronous processing: `202` with the command id and a
    `Location` to poll. The outcome (`succeeded`, `rejected` with a code, or `failed`)
    appears on `GET /v1/commands/{id}` and as a `command.completed` event."""
    with idempotency_problems(), db.transaction() as session:
        result = accept_command(
            session,
            organisation_id=principal.organisation_id,
            idempotency_key=key,
            command=command,
            source="http",
            retention=timedelta(hours=settings.idempotency_retention_hours),
        )
    return idempotent_response(result, lambda body: str(body["location"]))


@router.get("/{command_id}", response_model=CommandView, responses=NOT_FOUND)
def get_command(
    command_id: UUID,
    principal: Annotated[Principal, Depends(require(Scope.COMMANDS_READ))],
    db: DatabaseDep,
) -> CommandView:
    with db.transaction() as session:
        record = session.scalar(
            select(CommandRecord).where(
                CommandRecord.id == command_id,
                CommandRecord.organisation_id == principal.organisation_id,
            )
        )
        if record is None:
            raise ProblemError(404, "Not found", f"command {command_id} not found")
        return command_view(record)


@router.get("", response_model=list[CommandEntry])
def find_commands(
    principal: Annotated[Principal, Depends(require(Scope.COMMANDS_READ))],
    db: DatabaseDep,
    idempotency_key: Annotated[str, Query(min_length=1, max_length=STORED_KEY_LENGTH)],
) -> list[CommandView | CommandRefusalView]:
    """What an idempotency key names, for AMQP publishers: the commands accepted under it
    (newest first, at most 10), then the envelopes the ingress refused under it
    (`"status": "refused"` with a `code` and field `errors`; newest first, at most 10).
    A key reused with another body lists the first command and the refusal. An empty list
    means nothing under this key was consumed yet (or it expired)."""
    with db.transaction() as session:
        records = session.scalars(
            select(CommandRecord)
            .where(
                CommandRecord.organisation_id == principal.organisation_id,
                CommandRecord.idempotency_key == idempotency_key,
            )
            .order_by(CommandRecord.created_at.desc())
            .limit(10)
        ).all()
        refusals = find_refusals(session, principal.organisation_id, idempotency_key)
        return [
            *(command_view(r) for r in records),
            *(refusal_view(r) for r in refusals),
        ]


def refusal_view(refusal: CommandRefusal) -> CommandRefusalView:
    return CommandRefusalView.model_validate(
        {
            "status": "refused",
            "refusal_id": refusal.id,
            "idempotency_key": refusal.idempotency_key,
            "code": refusal.code,
            "errors": refusal.errors,
            "source": refusal.source,
            "message_id": refusal.message_id,
            "refused_at": refusal.refused_at,
        }
    )


def command_view(record: CommandRecord) -> CommandView:
    return CommandView.model_validate(
        {
            "command_id": record.id,
            "type": record.type,
            "status": record.status,
            "code": record.outcome_code,
            "message": record.outcome_message,
            "application_id": record.application_id,
            "result": record.result,
            "idempotency_key": record.idempotency_key,
            "source": record.source,
            "created_at": record.created_at,
            "completed_at": record.completed_at,
        }
    )
