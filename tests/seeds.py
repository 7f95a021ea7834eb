"""Rows for tests that need an application in a given state, written directly."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shared.db.database import Database
from shared.db.models import (
    Applicant,
    Application,
    Department,
    Offer,
    Position,
    RejectionReason,
    Vacancy,
)
from shared.ids import new_id
from shared.statuses import ApplicationStatus


@dataclass(frozen=True)
class Reference:
    """One organisation's reference data: what commands point at."""

    vacancy_id: uuid.UUID
    other_vacancy_id: uuid.UUID
    department_id: uuid.UUID
    position_id: uuid.UUID
    reason_id: uuid.UUID  # a by_company reason


def seed_reference(db: Database, organisation_id: uuid.UUID) -> Reference:
    with db.transaction() as session:
        vacancy = Vacancy(id=new_id(), organisation_id=organisation_id, title="Nurse")
        other = Vacancy(id=new_id(), organisation_id=organisation_id, title="Doctor")
        department = Department(id=new_id(), organisation_id=organisation_id, name="Care")
        session.add_all([vacancy, other, department])
        session.flush()
        position = Position(
            id=new_id(), organisation_id=organisation_id, department_id=department.id, title="Nurse"
        )
        reason = RejectionReason(
            id=new_id(),
            organisation_id=organisation_id,
            rejection_type="by_company",
            label_nl="Voldoet niet",
            label_en="Does not qualify",
        )
        session.add_all([position, reason])
        return Reference(vacancy.id, other.id, department.id, position.id, reason.id)


def seed_application(
    db: Database,
    organisation_id: uuid.UUID,
    vacancy_id: uuid.UUID,
    status: ApplicationStatus,
    *,
    deleted: bool = False,
    name: str = "Ann de Vries",
    application_text: str | None = None,
) -> uuid.UUID:
    """An application in ``status``, with what that status implies (an open offer when
    offered, a status before when rejected)."""
    now = datetime.now(UTC)
    with db.transaction() as session:
        applicant = Applicant(
            id=new_id(),
            organisation_id=organisation_id,
            name=name,
            email=f"{uuid.uuid4().hex[:8]}@example.org",
        )
        session.add(applicant)
        application = Application(
            id=new_id(),
            organisation_id=organisation_id,
            vacancy_id=vacancy_id,
            applicant_id=applicant.id,
            status=status,
            status_before=ApplicationStatus.INTERVIEW
            if status == ApplicationStatus.REJECTED
            else None,
            application_text=application_text,
            deleted_at=now if deleted else None,
            version=1,
        )
        session.add(application)
        if status == ApplicationStatus.OFFERED:
            session.flush()
            session.add(
                Offer(
                    id=new_id(),
                    organisation_id=organisation_id,
                    application_id=application.id,
                    version=1,
                    salary_amount=Decimal("3000.00"),
                    salary_currency="EUR",
                    salary_period="month",
                    start_date=(now + timedelta(days=30)).date(),
                    status="open",
                )
            )
        return application.id
