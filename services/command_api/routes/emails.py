"""``/v1/applications/{id}/emails``: the emails of an application and their delivery state."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import DatabaseDep, require
from services.command_api.responses import NOT_FOUND
from services.command_api.scoping import get_owned
from shared.db.models import Application, OutboundEmail

router = APIRouter(prefix="/v1/applications", tags=["applications"])


class EmailView(BaseModel):
    id: UUID
    purpose: str
    state: Literal["pending", "sending", "sent", "failed", "unknown"] = Field(
        description="`unknown`: the connection broke while the server may have accepted it;"
        " not resent for credentials, offers and contracts."
    )
    recipient: str
    message_id: str
    attempts: int
    smtp_reply: str | None = Field(
        description="The SMTP server's last reply; for a `failed` email that could not be"
        " composed, why: `template_error: <purpose>/<locale> <which template>: <part>: line"
        " <n>: <problem>`."
    )
    created_at: datetime
    sent_at: datetime | None


class EmailList(BaseModel):
    items: list[EmailView]


@router.get("/{application_id}/emails", response_model=EmailList, responses=NOT_FOUND)
def list_application_emails(
    application_id: UUID,
    principal: Annotated[Principal, Depends(require(Scope.APPLICATIONS_READ))],
    db: DatabaseDep,
) -> EmailList:
    with db.transaction() as session:
        get_owned(
            session, Application, application_id, principal.organisation_id, what="application"
        )
        emails = session.scalars(
            select(OutboundEmail)
            .where(
                OutboundEmail.application_id == application_id,
                OutboundEmail.organisation_id == principal.organisation_id,
            )
            .order_by(OutboundEmail.created_at, OutboundEmail.id)
        ).all()
        return EmailList(
            items=[
                EmailView(
                    id=e.id,
                    purpose=e.purpose,
                    state=e.state,
                    recipient=e.recipient,
                    message_id=e.message_id_header,
                    attempts=e.attempts,
                    smtp_reply=e.smtp_reply,
                    created_at=e.created_at,
                    sent_at=e.sent_at,
                )
                for e in emails
            ]
        )
