"""``/v1/applications``: an application's status, version and history."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from sqlalchemy import select

from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import DatabaseDep, require
from services.command_api.problems import ProblemError
from services.command_api.responses import GET_ERRORS
from services.command_api.schemas import ApplicationView, HistoryEntry
from shared.db.models import Application, ApplicationEvent

router = APIRouter(prefix="/v1/applications", tags=["applications"])


@router.get("/{application_id}", response_model=ApplicationView, responses=GET_ERRORS)
def get_application(
    application_id: UUID,
    principal: Annotated[Principal, Depends(require(Scope.APPLICATIONS_READ))],
    db: DatabaseDep,
) -> ApplicationView:
    with db.transaction() as session:
        application = session.scalar(
            select(Application).where(
                Application.id == application_id,
                Application.organisation_id == principal.organisation_id,
            )
        )
        if application is None:
            raise ProblemError(404, "Not found", f"application {application_id} not found")
        events = session.scalars(
            select(ApplicationEvent)
            .where(
                ApplicationEvent.application_id == application.id,
                ApplicationEvent.organisation_id == principal.organisation_id,
            )
            .order_by(ApplicationEvent.occurred_at, ApplicationEvent.id)
        ).all()
        return ApplicationView(
            id=application.id,
            vacancy_id=application.vacancy_id,
            applicant_id=application.applicant_id,
            status=application.status,
            status_before=application.status_before,
            version=application.version,
            deleted=application.deleted_at is not None,
            created_at=application.created_at,
            updated_at=application.updated_at,
            history=[HistoryEntry.model_validate(e, from_attributes=True) for e in events],
        )
