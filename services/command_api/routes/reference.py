"""Reference data: ``/v1/departments``, ``/v1/positions`` and ``/v1/rejection-reasons``."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import DatabaseDep, IdempotencyKeyDep, SettingsDep, require
from services.command_api.idempotency import Response
from services.command_api.problems import invalid_field
from services.command_api.reference_schemas import (
    DepartmentIn,
    DepartmentList,
    DepartmentView,
    PositionIn,
    PositionList,
    PositionView,
    RejectionReasonIn,
    RejectionReasonLabels,
    RejectionReasonList,
    RejectionReasonView,
)
from services.command_api.responses import (
    INVALID_QUERY,
    NOT_FOUND,
)
from services.command_api.scoping import find_owned, get_owned
from services.command_api.writes import write_once
from shared.commands.fields import RejectionType
from shared.db.models import Department, Position, RejectionReason

router = APIRouter(tags=["reference data"])

ReaderDep = Annotated[Principal, Depends(require(Scope.REFERENCE_READ))]
WriterDep = Annotated[Principal, Depends(require(Scope.REFERENCE_WRITE))]


# -- departments ------------------------------------------------------------------------


def _department_view(department: Department) -> DepartmentView:
    return DepartmentView.model_validate(department, from_attributes=True)


@router.post("/v1/departments", status_code=201, response_model=DepartmentView)
def create_department(
    department_in: DepartmentIn,
    principal: WriterDep,
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    def produce(session: Session) -> Response:
        department = Department(organisation_id=principal.organisation_id, name=department_in.name)
        session.add(department)
        session.flush()
        return Response(201, _department_view(department).model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request="POST /v1/departments",
        body=department_in.model_dump(),
        produce=produce,
        location=lambda body: f"/v1/departments/{body['id']}",
    )


@router.get("/v1/departments", response_model=DepartmentList)
def list_departments(principal: ReaderDep, db: DatabaseDep) -> DepartmentList:
    """The organisation's departments, by name."""
    query = (
        select(Department)
        .where(Department.organisation_id == principal.organisation_id)
        .order_by(Department.name, Department.id)
    )
    with db.transaction() as session:
        return DepartmentList(items=[_department_view(d) for d in session.scalars(query)])


@router.get("/v1/departments/{department_id}", response_model=DepartmentView, responses=NOT_FOUND)
def get_department(department_id: UUID, principal: ReaderDep, db: DatabaseDep) -> DepartmentView:
    with db.transaction() as session:
        department = get_owned(
            session, Department, department_id, principal.organisation_id, what="department"
        )
        return _department_view(department)


@router.put(
    "/v1/departments/{department_id}",
    response_model=DepartmentView,
    responses=NOT_FOUND,
)
def rename_department(
    department_id: UUID,
    department_in: DepartmentIn,
    principal: WriterDep,
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Rename a department; its positions, vacancies and employees stay in it."""

    def produce(session: Session) -> Response:
        department = get_owned(
            session,
            Department,
            department_id,
            principal.organisation_id,
            what="department",
            for_update=True,
        )
        department.name = department_in.name
        session.flush()
        return Response(200, _department_view(department).model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request=f"PUT /v1/departments/{department_id}",
        body=department_in.model_dump(),
        produce=produce,
        location=lambda body: f"/v1/departments/{body['id']}",
    )


# -- positions --------------------------------------------------------------------------


def _position_view(position: Position) -> PositionView:
    return PositionView.model_validate(position, from_attributes=True)


@router.post("/v1/positions", status_code=201, response_model=PositionView)
def create_position(
    position_in: PositionIn,
    principal: WriterDep,
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Create a position in one of the organisation's departments."""

    def produce(session: Session) -> Response:
        department_id = position_in.department_id
        if find_owned(session, Department, department_id, principal.organisation_id) is None:
            raise invalid_field(
                "department_id", "not_found", f"department {department_id} not found"
            )
        position = Position(
            organisation_id=principal.organisation_id,
            department_id=department_id,
            title=position_in.title,
        )
        session.add(position)
        session.flush()
        return Response(201, _position_view(position).model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request="POST /v1/positions",
        body=position_in.model_dump(),
        produce=produce,
        location=lambda body: f"/v1/positions/{body['id']}",
    )


@router.get("/v1/positions", response_model=PositionList, responses=INVALID_QUERY)
def list_positions(
    principal: ReaderDep,
    db: DatabaseDep,
    department_id: Annotated[UUID | None, Query(description="Only this department's.")] = None,
) -> PositionList:
    """The organisation's positions, by title."""
    query = select(Position).where(Position.organisation_id == principal.organisation_id)
    if department_id is not None:
        query = query.where(Position.department_id == department_id)
    with db.transaction() as session:
        positions = session.scalars(query.order_by(Position.title, Position.id))
        return PositionList(items=[_position_view(p) for p in positions])


@router.get("/v1/positions/{position_id}", response_model=PositionView, responses=NOT_FOUND)
def get_position(position_id: UUID, principal: ReaderDep, db: DatabaseDep) -> PositionView:
    with db.transaction() as session:
        position = get_owned(
            session, Position, position_id, principal.organisation_id, what="position"
        )
        return _position_view(position)


# -- rejection reasons ------------------------------------------------------------------


def _reason_view(reason: RejectionReason) -> RejectionReasonView:
    return RejectionReasonView.model_validate(reason, from_attributes=True)


@router.post(
    "/v1/rejection-reasons",
    status_code=201,
    response_model=RejectionReasonView,
)
def create_rejection_reason(
    reason_in: RejectionReasonIn,
    principal: WriterDep,
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Add a rejection reason, with its label in Dutch and in English."""

    def produce(session: Session) -> Response:
        reason = RejectionReason(
            organisation_id=principal.organisation_id,
            rejection_type=reason_in.rejection_type,
            label_nl=reason_in.label_nl,
            label_en=reason_in.label_en,
        )
        session.add(reason)
        session.flush()
        return Response(201, _reason_view(reason).model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request="POST /v1/rejection-reasons",
        body=reason_in.model_dump(),
        produce=produce,
        location=_reason_location,
    )


@router.get("/v1/rejection-reasons", response_model=RejectionReasonList, responses=INVALID_QUERY)
def list_rejection_reasons(
    principal: ReaderDep,
    db: DatabaseDep,
    rejection_type: Annotated[RejectionType | None, Query(description="Only this type.")] = None,
    include_inactive: Annotated[
        bool, Query(description="Also the deactivated reasons (they stay on past rejections).")
    ] = False,
) -> RejectionReasonList:
    """The organisation's rejection reasons, grouped by type."""
    query = select(RejectionReason).where(
        RejectionReason.organisation_id == principal.organisation_id
    )
    if rejection_type is not None:
        query = query.where(RejectionReason.rejection_type == rejection_type)
    if not include_inactive:
        query = query.where(RejectionReason.active.is_(True))
    query = query.order_by(
        RejectionReason.rejection_type, RejectionReason.created_at, RejectionReason.id
    )
    with db.transaction() as session:
        return RejectionReasonList(items=[_reason_view(r) for r in session.scalars(query)])


@router.get(
    "/v1/rejection-reasons/{reason_id}", response_model=RejectionReasonView, responses=NOT_FOUND
)
def get_rejection_reason(
    reason_id: UUID, principal: ReaderDep, db: DatabaseDep
) -> RejectionReasonView:
    with db.transaction() as session:
        reason = get_owned(
            session, RejectionReason, reason_id, principal.organisation_id, what="rejection reason"
        )
        return _reason_view(reason)


@router.put(
    "/v1/rejection-reasons/{reason_id}/labels",
    response_model=RejectionReasonView,
    responses=NOT_FOUND,
)
def relabel_rejection_reason(
    reason_id: UUID,
    labels: RejectionReasonLabels,
    principal: WriterDep,
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Reword a reason in both languages. Its type stays; past rejections show the new
    wording, since they point at the reason."""

    def produce(session: Session) -> Response:
        reason = get_owned(
            session,
            RejectionReason,
            reason_id,
            principal.organisation_id,
            what="rejection reason",
            for_update=True,
        )
        reason.label_nl, reason.label_en = labels.label_nl, labels.label_en
        session.flush()
        return Response(200, _reason_view(reason).model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request=f"PUT /v1/rejection-reasons/{reason_id}/labels",
        body=labels.model_dump(),
        produce=produce,
        location=_reason_location,
    )


@router.post(
    "/v1/rejection-reasons/{reason_id}/deactivate",
    response_model=RejectionReasonView,
    responses=NOT_FOUND,
)
def deactivate_rejection_reason(
    reason_id: UUID,
    principal: WriterDep,
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Stop offering a reason. It is never deleted: past rejections keep pointing at it.
    Deactivating an inactive reason is a no-op."""

    def produce(session: Session) -> Response:
        reason = get_owned(
            session,
            RejectionReason,
            reason_id,
            principal.organisation_id,
            what="rejection reason",
            for_update=True,
        )
        reason.active = False
        session.flush()
        return Response(200, _reason_view(reason).model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request=f"POST /v1/rejection-reasons/{reason_id}/deactivate",
        body=None,
        produce=produce,
        location=_reason_location,
    )


def _reason_location(body: dict[str, object]) -> str:
    return f"/v1/rejection-reasons/{body['id']}"
