"""``/v1/vacancies``: create, list, edit, close and reopen vacancies."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import DatabaseDep, IdempotencyKeyDep, SettingsDep, require
from services.command_api.idempotency import Response
from services.command_api.problems import invalid_field
from services.command_api.responses import (
    NOT_FOUND,
)
from services.command_api.schemas import VacancyIn, VacancyList, VacancyView
from services.command_api.scoping import find_owned, get_owned
from services.command_api.writes import write_once
from shared.db.models import Department, Position, Vacancy
from shared.db.types import utcnow

router = APIRouter(prefix="/v1/vacancies", tags=["vacancies"])


def _view(vacancy: Vacancy) -> VacancyView:
    return VacancyView(
        id=vacancy.id,
        title=vacancy.title,
        department_id=vacancy.department_id,
        position_id=vacancy.position_id,
        status="open" if vacancy.is_open else "closed",
        created_at=vacancy.created_at,
        closed_at=vacancy.closed_at,
    )


def _location(body: dict[str, object]) -> str:
    return f"/v1/vacancies/{body['id']}"


@router.post("", status_code=201, response_model=VacancyView)
def create_vacancy(
    vacancy_in: VacancyIn,
    principal: Annotated[Principal, Depends(require(Scope.VACANCIES_WRITE))],
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    def produce(session: Session) -> Response:
        department_id, position_id = _placement(session, principal, vacancy_in)
        vacancy = Vacancy(
            organisation_id=principal.organisation_id,
            title=vacancy_in.title,
            department_id=department_id,
            position_id=position_id,
        )
        session.add(vacancy)
        session.flush()
        return Response(201, _view(vacancy).model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request="POST /v1/vacancies",
        body=vacancy_in.model_dump(),
        produce=produce,
        location=_location,
    )


@router.get("", response_model=VacancyList)
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


@router.get("/{vacancy_id}", response_model=VacancyView, responses=NOT_FOUND)
def get_vacancy(
    vacancy_id: UUID,
    principal: Annotated[Principal, Depends(require(Scope.VACANCIES_READ))],
    db: DatabaseDep,
) -> VacancyView:
    with db.transaction() as session:
        return _view(_scoped(session, principal, vacancy_id))


@router.put("/{vacancy_id}", response_model=VacancyView, responses=NOT_FOUND)
def update_vacancy(
    vacancy_id: UUID,
    vacancy_in: VacancyIn,
    principal: Annotated[Principal, Depends(require(Scope.VACANCIES_WRITE))],
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Replace a vacancy's title, department and position (open or closed stays as it is).
    Its applications keep pointing at it."""

    def produce(session: Session) -> Response:
        vacancy = _scoped(session, principal, vacancy_id, for_update=True)
        vacancy.department_id, vacancy.position_id = _placement(session, principal, vacancy_in)
        vacancy.title = vacancy_in.title
        session.flush()
        return Response(200, _view(vacancy).model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request=f"PUT /v1/vacancies/{vacancy_id}",
        body=vacancy_in.model_dump(),
        produce=produce,
        location=_location,
    )


@router.post("/{vacancy_id}/close", response_model=VacancyView, responses=NOT_FOUND)
def close_vacancy(
    vacancy_id: UUID,
    principal: Annotated[Principal, Depends(require(Scope.VACANCIES_WRITE))],
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Close a vacancy: it takes no new applications. Closing a closed vacancy is a no-op."""

    def produce(session: Session) -> Response:
        vacancy = _scoped(session, principal, vacancy_id, for_update=True)
        if vacancy.is_open:
            vacancy.is_open = False
            vacancy.closed_at = utcnow()
        return Response(200, _view(vacancy).model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request=f"POST /v1/vacancies/{vacancy_id}/close",
        body=None,
        produce=produce,
        location=_location,
    )


@router.post("/{vacancy_id}/open", response_model=VacancyView, responses=NOT_FOUND)
def reopen_vacancy(
    vacancy_id: UUID,
    principal: Annotated[Principal, Depends(require(Scope.VACANCIES_WRITE))],
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Reopen a closed vacancy: it takes applications again. Opening an open one is a no-op."""

    def produce(session: Session) -> Response:
        vacancy = _scoped(session, principal, vacancy_id, for_update=True)
        if not vacancy.is_open:
            vacancy.is_open = True
            vacancy.closed_at = None
        return Response(200, _view(vacancy).model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request=f"POST /v1/vacancies/{vacancy_id}/open",
        body=None,
        produce=produce,
        location=_location,
    )


def _placement(
    session: Session, principal: Principal, vacancy_in: VacancyIn
) -> tuple[UUID | None, UUID | None]:
    """The vacancy's department and position, both checked to be the organisation's.

    A position alone brings its department; with both, the position must be in it.
    """
    organisation_id = principal.organisation_id
    department_id = vacancy_in.department_id
    if (
        department_id is not None
        and find_owned(session, Department, department_id, organisation_id) is None
    ):
        raise invalid_field("department_id", "not_found", f"department {department_id} not found")
    if vacancy_in.position_id is None:
        return department_id, None
    position = find_owned(session, Position, vacancy_in.position_id, organisation_id)
    if position is None:
        raise invalid_field(
            "position_id", "not_found", f"position {vacancy_in.position_id} not found"
        )
    if department_id is not None and position.department_id != department_id:
        raise invalid_field(
            "position_id",
            "department_mismatch",
            f"position {position.id} belongs to another department than {department_id}",
        )
    return position.department_id, position.id


def _scoped(
    session: Session, principal: Principal, vacancy_id: UUID, *, for_update: bool = False
) -> Vacancy:
    return get_owned(
        session,
        Vacancy,
        vacancy_id,
        principal.organisation_id,
        what="vacancy",
        for_update=for_update,
    )
