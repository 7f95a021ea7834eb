"""``/v1/employees``: the applicants who were hired, in their position and department."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from sqlalchemy import select

from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import DatabaseDep, require
from services.command_api.pagination import PageDep, keyset, split_page
from services.command_api.responses import INVALID_QUERY, NOT_FOUND
from services.command_api.schemas import EmployeePage, EmployeeView
from services.command_api.scoping import get_owned
from shared.db.models import Employee

router = APIRouter(prefix="/v1/employees", tags=["employees"])

ReaderDep = Annotated[Principal, Depends(require(Scope.EMPLOYEES_READ))]


def _view(employee: Employee) -> EmployeeView:
    return EmployeeView.model_validate(employee, from_attributes=True)


@router.get("", response_model=EmployeePage, responses=INVALID_QUERY)
def list_employees(principal: ReaderDep, db: DatabaseDep, page: PageDep) -> EmployeePage:
    """The organisation's employees, in the order they were hired, a page at a time."""
    query = select(Employee).where(Employee.organisation_id == principal.organisation_id)
    with db.transaction() as session:
        rows = session.scalars(keyset(query, Employee.id, page)).all()
    kept, next_cursor = split_page(rows, page, lambda employee: employee.id)
    return EmployeePage(items=[_view(e) for e in kept], next_cursor=next_cursor)


@router.get("/{employee_id}", response_model=EmployeeView, responses=NOT_FOUND)
def get_employee(employee_id: UUID, principal: ReaderDep, db: DatabaseDep) -> EmployeeView:
    with db.transaction() as session:
        return _view(
            get_owned(session, Employee, employee_id, principal.organisation_id, what="employee")
        )
