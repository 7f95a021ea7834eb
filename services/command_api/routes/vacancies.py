"""``/v1/vacancies``: the minimal set to open, list and close vacancies."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import DatabaseDep, IdempotencyKeyDep, SettingsDep, require
from services.command_api.idempotency import Response, fingerprint, respond_once
from services.command_api.problems import ProblemError
from services.command_api.responses import (
    GET_ERRORS,
    POST_ERRORS,
    idempotency_problems,
    idempotent_response,
)
from services.command_api.schemas import VacancyIn, VacancyList, VacancyView
from shared.db.models import Vacancy
from shared.db.types import utcnow

router = APIRouter(prefix="/v1/vacancies", tags=["vacancies"])


def _view(vacancy: Vacancy) -> VacancyView:
    return VacancyView(
        id=vacancy.id,
        title=vacancy.title,
        status="open" if vacancy.is_open else "closed",
        created_at=vacancy.created_at,
        closed_at=vacancy.closed_at,
    )


def _location(body: dict[str, object]) -> str:
    return f"/v1/vacancies/{body['id']}"


@router.post("", status_code=201, response_model=VacancyView, responses=POST_ERRORS)
def create_vacancy(
    vacancy_in: VacancyIn,
    principal: Annotated[Principal, Depends(require(Scope.VACANCIES_WRITE))],
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    with idempotency_problems(), db.transaction() as session:

        def produce() -> Response:
            vacancy = Vacancy(organisation_id=principal.organisation_id, title=vacancy_in.title)
            session.add(vacancy)
            session.flush()
            return Response(201, _view(vacancy).model_dump(mode="json"))

        result = respond_once(
            session,
            organisation_id=principal.organisation_id,
            key=key,
            request_fingerprint=fingerprint("POST /v1/vacancies", vacancy_in.model_dump()),
            retention=timedelta(hours=settings.idempotency_retention_hours),
            produce=produce,
        )
    return idempotent_response(result, _location)


@router.get("", response_model=VacancyList, responses=GET_ERRORS)
def list_vacancies(
    principal: Annotated[Principal, Depends(require(Scope.VACANCIES_READ))],
    db: DatabaseDep,
    status: Annotated[Literal["open", "closed"] | None, Query()] = None,
) -> VacancyList:
    query = select(Vacancy).where(Vacancy.organisation_id == principal.organisation_id)
    if status is not None:
        query = query.where(Vacancy.is_open.is_(status == "open"))
    with db.transaction() as session:
        vacancies = session.scalars(query.order_by(Vacancy.created_at)).all()
        return VacancyList(items=[_view(v) for v in vacancies])


@router.get("/{vacancy_id}", response_model=VacancyView, responses=GET_ERRORS)
def get_vacancy(
    vacancy_id: UUID,
    principal: Annotated[Principal, Depends(require(Scope.VACANCIES_READ))],
    db: DatabaseDep,
) -> VacancyView:
    with db.transaction() as session:
        return _view(_scoped(session, principal, vacancy_id))


@router.post(
    "/{vacancy_id}/close", response_model=VacancyView, responses={**POST_ERRORS, **GET_ERRORS}
)
def close_vacancy(
    vacancy_id: UUID,
    principal: Annotated[Principal, Depends(require(Scope.VACANCIES_WRITE))],
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Close a vacancy: it takes no new applications. Closing a closed vacancy is a no-op."""
    with idempotency_problems(), db.transaction() as session:

        def produce() -> Response:
            vacancy = _scoped(session, principal, vacancy_id, for_update=True)
            if vacancy.is_open:
                vacancy.is_open = False
                vacancy.closed_at = utcnow()
            return Response(200, _view(vacancy).model_dump(mode="json"))

        result = respond_once(
            session,
            organisation_id=principal.organisation_id,
            key=key,
            request_fingerprint=fingerprint(f"POST /v1/vacancies/{vacancy_id}/close", None),
            retention=timedelta(hours=settings.idempotency_retention_hours),
            produce=produce,
        )
    return idempotent_response(result, _location)


def _scoped(
    session: Session, principal: Principal, vacancy_id: UUID, *, for_update: bool = False
) -> Vacancy:
    query = select(Vacancy).where(
        Vacancy.id == vacancy_id, Vacancy.organisation_id == principal.organisation_id
    )
    vacancy = session.scalar(query.with_for_update() if for_update else query)
    if vacancy is None:
        raise ProblemError(404, "Not found", f"vacancy {vacancy_id} not found")
    return vacancy
