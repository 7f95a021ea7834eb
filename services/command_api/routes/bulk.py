"""``/v1/commands/bulk``: one recruiter action over many applications."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.command_api.acceptance import InvalidBulkCommandError, accept_bulk
from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import DatabaseDep, IdempotencyKeyDep, SettingsDep, require
from services.command_api.problems import ProblemError, field_errors
from services.command_api.responses import idempotency_problems
from shared.commands.base import Contract
from shared.commands.envelope import BulkApplicationIds

router = APIRouter(prefix="/v1/commands", tags=["commands"])


class BulkCommand(Contract):
    application_ids: BulkApplicationIds
    command: dict[str, Any] = Field(
        description="A command as for `POST /v1/commands`, without `application_id`: one"
        " that acts on an existing application (not `register_application`, not a panel"
        " review's).",
        examples=[
            {
                "type": "reject_application",
                "rejection_type": "by_company",
                "reason_id": "0190f1c2-7a1b-7c3d-8e4f-5a6b7c8d9e0f",
            }
        ],
    )


class BulkItem(BaseModel):
    application_id: UUID
    idempotency_key: str
    status: str
    command_id: UUID | None = None
    location: str | None = None
    code: str | None = None
    message: str | None = None


class BulkAccepted(BaseModel):
    count: int
    items: list[BulkItem]


@router.post(
    "/bulk",
    status_code=202,
    response_model=BulkAccepted,
    summary="Submit one recruiter action for many applications",
)
def submit_bulk(
    bulk: BulkCommand,
    principal: Annotated[Principal, Depends(require(Scope.COMMANDS_WRITE))],
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Fan out into one command per application, each with its own idempotency key
    (`<Idempotency-Key>/<application_id>`) and its own outcome on `GET /v1/commands/{id}`."""
    if len(set(bulk.application_ids)) != len(bulk.application_ids):
        raise ProblemError(
            422,
            "Invalid request",
            "application_ids: each application may appear once",
            errors=field_errors(
                [{"loc": ("body", "application_ids"), "type": "unique", "msg": "duplicate ids"}]
            ),
        )
    try:
        with idempotency_problems(), db.transaction() as session:
            result = accept_bulk(
                session,
                organisation_id=principal.organisation_id,
                idempotency_key=key,
                command=bulk.command,
                application_ids=bulk.application_ids,
                retention=timedelta(hours=settings.idempotency_retention_hours),
            )
    except InvalidBulkCommandError as refused:
        errors = field_errors(refused.errors)
        raise ProblemError(
            422,
            "Invalid request",
            "; ".join(f"{e.field}: {e.message}" for e in errors),
            errors=errors,
        ) from None
    headers = {"Idempotency-Replayed": "true"} if result.replayed else {}
    return JSONResponse(result.body, status_code=result.status_code, headers=headers)
