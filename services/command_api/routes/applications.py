"""``/v1/applications``: lists of applications, and one application with its history."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Select, select

from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import DatabaseDep, require
from services.command_api.pagination import PageDep, PageRequest, keyset, split_page
from services.command_api.responses import INVALID_QUERY, NOT_FOUND
from services.command_api.review_results import candidate_ratings
from services.command_api.schemas import (
    ApplicantView,
    ApplicationPage,
    ApplicationSummary,
    ApplicationView,
    HistoryEntry,
    InterviewView,
    OfferView,
    Rejection,
    ScreeningAnswerView,
)
from services.command_api.scoping import get_owned
from shared.db.database import Database
from shared.db.models import Applicant, Application, ApplicationEvent, Interview, Offer
from shared.statuses import ApplicationStatus

router = APIRouter(prefix="/v1/applications", tags=["applications"])

ReaderDep = Annotated[Principal, Depends(require(Scope.APPLICATIONS_READ))]
VacancyFilter = Annotated[UUID | None, Query(description="Only this vacancy's applications.")]


@router.get("", response_model=ApplicationPage, responses=INVALID_QUERY)
def list_applications(
    principal: ReaderDep,
    db: DatabaseDep,
    page: PageDep,
    vacancy_id: VacancyFilter = None,
    status: Annotated[ApplicationStatus | None, Query(description="Only this status.")] = None,
) -> ApplicationPage:
    """The organisation's applications (deleted ones excluded), oldest first, a page at a time."""
    query = _summaries(principal).where(Application.deleted_at.is_(None))
    if vacancy_id is not None:
        query = query.where(Application.vacancy_id == vacancy_id)
    if status is not None:
        query = query.where(Application.status == status.value)
    return _page(db, query, page)


@router.get("/deleted", response_model=ApplicationPage, responses=INVALID_QUERY)
def list_deleted_applications(
    principal: ReaderDep,
    db: DatabaseDep,
    page: PageDep,
    vacancy_id: VacancyFilter = None,
) -> ApplicationPage:
    """The organisation's deleted applications, with when each was deleted."""
    query = _summaries(principal).where(Application.deleted_at.is_not(None))
    if vacancy_id is not None:
        query = query.where(Application.vacancy_id == vacancy_id)
    return _page(db, query, page)


@router.get("/{application_id}", response_model=ApplicationView, responses=NOT_FOUND)
def get_application(application_id: UUID, principal: ReaderDep, db: DatabaseDep) -> ApplicationView:
    with db.transaction() as session:
        application = get_owned(
            session, Application, application_id, principal.organisation_id, what="application"
        )
        events = session.scalars(
            select(ApplicationEvent)
            .where(
                ApplicationEvent.application_id == application.id,
                ApplicationEvent.organisation_id == principal.organisation_id,
            )
            .order_by(ApplicationEvent.occurred_at, ApplicationEvent.id)
        ).all()
        applicant = session.scalar(
            select(Applicant).where(
                Applicant.id == application.applicant_id,
                Applicant.organisation_id == principal.organisation_id,
            )
        )
        assert applicant is not None  # an application always has its applicant
        return ApplicationView(
            id=application.id,
            vacancy_id=application.vacancy_id,
            applicant_id=application.applicant_id,
            applicant=ApplicantView.model_validate(applicant, from_attributes=True),
            application_text=application.application_text,
            screening_answers=[
                ScreeningAnswerView.model_validate(a) for a in application.screening_answers
            ],
            cv_document_id=application.cv_document_id,
            status=ApplicationStatus(application.status),
            status_before=(
                ApplicationStatus(application.status_before) if application.status_before else None
            ),
            version=application.version,
            deleted=application.deleted_at is not None,
            deleted_at=application.deleted_at,
            rejection=_rejection(application),
            transferred_from_id=application.transferred_from_id,
            created_at=application.created_at,
            updated_at=application.updated_at,
            history=[HistoryEntry.model_validate(e, from_attributes=True) for e in events],
            interviews=[
                InterviewView.model_validate(i, from_attributes=True)
                for i in session.scalars(
                    select(Interview)
                    .where(
                        Interview.application_id == application.id,
                        Interview.organisation_id == principal.organisation_id,
                    )
                    .order_by(Interview.starts_at, Interview.id)
                )
            ],
            offers=[
                _offer(o)
                for o in session.scalars(
                    select(Offer)
                    .where(
                        Offer.application_id == application.id,
                        Offer.organisation_id == principal.organisation_id,
                    )
                    .order_by(Offer.version)
                )
            ],
            panel_ratings=candidate_ratings(session, principal.organisation_id, application.id),
        )


def _offer(offer: Offer) -> OfferView:
    return OfferView.model_validate(
        {
            "id": offer.id,
            "version": offer.version,
            "salary": {
                "amount": offer.salary_amount,
                "currency": offer.salary_currency,
                "period": offer.salary_period,
            },
            "start_date": offer.start_date,
            "expires_at": offer.expires_at,
            "message": offer.message,
            "status": offer.status,
            "response_reason": offer.response_reason,
            "responded_at": offer.responded_at,
            "created_at": offer.created_at,
        }
    )


def _rejection(application: Application) -> Rejection | None:
    if application.rejection_type is None:
        return None
    return Rejection.model_validate(
        {
            "type": application.rejection_type,
            "reason_id": application.rejection_reason_id,
            "note": application.rejection_note,
        }
    )


def _summaries(principal: Principal) -> Select[Application, str]:
    return (
        select(Application, Applicant.name)
        .join(Applicant, Applicant.id == Application.applicant_id)
        .where(
            Application.organisation_id == principal.organisation_id,
            Applicant.organisation_id == principal.organisation_id,
        )
    )


def _page(db: Database, query: Select[Application, str], page: PageRequest) -> ApplicationPage:
    with db.transaction() as session:
        rows = session.execute(keyset(query, Application.id, page)).all()
    kept, next_cursor = split_page(rows, page, lambda row: row[0].id)
    return ApplicationPage(
        items=[
            ApplicationSummary(
                id=application.id,
                vacancy_id=application.vacancy_id,
                applicant_id=application.applicant_id,
                applicant_name=name,
                status=ApplicationStatus(application.status),
                version=application.version,
                created_at=application.created_at,
                updated_at=application.updated_at,
                deleted_at=application.deleted_at,
            )
            for application, name in kept
        ],
        next_cursor=next_cursor,
    )
