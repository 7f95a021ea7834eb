"""hire_applicant: an employee in a position and a department; no longer a candidate."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.status_worker.changes import (
    cancel_interviews,
    cancel_pending_mail,
    change,
    load_for_change,
    target_status,
)
from services.status_worker.unit_of_work import CommandContext
from shared.commands import HireApplicant
from shared.db.models import Applicant, Application, Department, Employee, Position
from shared.errors import RefusalCode, Refused
from shared.events import ApplicantHired
from shared.ids import new_id
from shared.messaging.outbox import publish_event
from shared.statuses import ACTIVE_STATUSES, ApplicationStatus


def hire_applicant(session: Session, ctx: CommandContext, cmd: HireApplicant) -> None:
    application = load_for_change(session, ctx, cmd)
    target = target_status(application, cmd.type)
    department = session.scalar(
        select(Department).where(
            Department.id == cmd.department_id, Department.organisation_id == ctx.organisation_id
        )
    )
    if department is None:
        raise Refused(RefusalCode.NOT_FOUND, f"department {cmd.department_id} not found")
    position = session.scalar(
        select(Position).where(
            Position.id == cmd.position_id, Position.organisation_id == ctx.organisation_id
        )
    )
    if position is None or position.department_id != department.id:
        raise Refused(
            RefusalCode.NOT_FOUND,
            f"position {cmd.position_id} not found in department {cmd.department_id}",
        )
    applicant = session.get(Applicant, application.applicant_id, with_for_update=True)
    assert applicant is not None  # the foreign key guarantees it
    employed = session.scalar(select(Employee.id).where(Employee.applicant_id == applicant.id))
    if employed is not None:
        raise Refused(
            RefusalCode.INVALID_TRANSITION,
            f"{cmd.type}: applicant {applicant.id} is already employed (employee {employed})",
        )

    employee = Employee(
        id=new_id(),
        organisation_id=ctx.organisation_id,
        applicant_id=applicant.id,
        application_id=application.id,
        position_id=position.id,
        department_id=department.id,
        start_date=cmd.start_date,
        end_date=cmd.end_date,
        created_at=ctx.now,
    )
    session.add(employee)
    applicant.is_candidate = False
    change(session, ctx, application, target, "application.hired")
    ctx.result["employee_id"] = str(employee.id)
    if cmd.withdraw_other_applications:
        _withdraw_others(session, ctx, application)
    publish_event(
        session,
        ApplicantHired(
            occurred_at=ctx.now,
            organisation_id=ctx.organisation_id,
            applicant_id=applicant.id,
            application_id=application.id,
            employee_id=employee.id,
            position_id=position.id,
            department_id=department.id,
            command_id=ctx.command_id,
        ),
    )


def _withdraw_others(session: Session, ctx: CommandContext, hired: Application) -> None:
    """The one case where a command touches other applications: the option says so."""
    others = session.scalars(
        select(Application)
        .where(
            Application.organisation_id == ctx.organisation_id,
            Application.applicant_id == hired.applicant_id,
            Application.id != hired.id,
            Application.deleted_at.is_(None),
            Application.status.in_([s.value for s in ACTIVE_STATUSES]),
        )
        .order_by(Application.id)
        .with_for_update()
    ).all()
    for other in others:
        change(
            session,
            ctx,
            other,
            ApplicationStatus.WITHDRAWN,
            "application.withdrawn",
            reason=f"hired through application {hired.id}",
        )
        cancel_pending_mail(session, ctx, other.id)
        cancel_interviews(session, ctx, other.id)
