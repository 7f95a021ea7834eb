"""Rows inserted straight into the database, for tests that read them back over the API,
and every value the database holds, for canary searches."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import select

from shared.db.base import Base
from shared.db.database import Database
from shared.db.models import (
    Applicant,
    Application,
    Department,
    Employee,
    Position,
    RejectionReason,
)


def applications(
    db: Database,
    organisation_id: uuid.UUID,
    vacancy_id: uuid.UUID,
    count: int,
    *,
    name: str = "Ann de Vries",
    status: str = "received",
    **fields: Any,
) -> list[uuid.UUID]:
    """``count`` applications for the vacancy, each by an applicant of its own."""
    ids = []
    with db.transaction() as session:
        for number in range(count):
            applicant = Applicant(
                organisation_id=organisation_id,
                name=f"{name} {number + 1}",
                email=f"applicant-{uuid.uuid4().hex[:8]}@example.org",
            )
            session.add(applicant)
            session.flush()
            application = Application(
                organisation_id=organisation_id,
                vacancy_id=vacancy_id,
                applicant_id=applicant.id,
                status=status,
                **fields,
            )
            session.add(application)
            session.flush()
            ids.append(application.id)
    return ids


def department_with_position(
    db: Database, organisation_id: uuid.UUID, name: str = "Care", title: str = "Nurse"
) -> tuple[uuid.UUID, uuid.UUID]:
    """A department and one position in it: (department id, position id)."""
    with db.transaction() as session:
        department = Department(organisation_id=organisation_id, name=name)
        session.add(department)
        session.flush()
        position = Position(
            organisation_id=organisation_id, department_id=department.id, title=title
        )
        session.add(position)
        session.flush()
        return department.id, position.id


def employee(
    db: Database,
    organisation_id: uuid.UUID,
    application_id: uuid.UUID,
    *,
    department_id: uuid.UUID,
    position_id: uuid.UUID,
    start_date: date = date(2027, 1, 4),
) -> uuid.UUID:
    """The hired applicant of ``application_id`` as an employee."""
    with db.transaction() as session:
        application = session.get_one(Application, application_id)
        row = Employee(
            organisation_id=organisation_id,
            applicant_id=application.applicant_id,
            application_id=application_id,
            position_id=position_id,
            department_id=department_id,
            start_date=start_date,
        )
        session.add(row)
        session.flush()
        return row.id


def a_rejection_reason(
    db: Database, organisation_id: uuid.UUID, rejection_type: str = "by_company"
) -> uuid.UUID:
    """One of the organisation's (default) reasons of that type."""
    with db.transaction() as session:
        reason_id = session.scalars(
            select(RejectionReason.id).where(
                RejectionReason.organisation_id == organisation_id,
                RejectionReason.rejection_type == rejection_type,
            )
        ).first()
    assert reason_id is not None, f"no {rejection_type} reason"
    return reason_id


def every_value(db: Database) -> list[tuple[str, str, object]]:
    """(table, column, value) for every non-null value of every row of every table."""
    with db.transaction() as session:
        return [
            (table.name, column, value)
            for table in Base.metadata.sorted_tables
            for row in session.execute(select(table)).mappings()
            for column, value in row.items()
            if value is not None
        ]
