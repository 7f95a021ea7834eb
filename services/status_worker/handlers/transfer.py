"""transfer_application: the applicant and the CV go to another vacancy.

The application text and screening answers belong to this vacancy and stay."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.status_worker.changes import (
    cancel_interviews,
    cancel_pending_mail,
    change,
    load_for_change,
    record,
    target_status,
)
from services.status_worker.unit_of_work import CommandContext
from shared.commands import TransferApplication
from shared.db.models import Application, Vacancy
from shared.errors import RefusalCode, Refused
from shared.events import ApplicationTransferred
from shared.ids import new_id
from shared.messaging.outbox import publish_event
from shared.statuses import ApplicationStatus


def transfer_application(session: Session, ctx: CommandContext, cmd: TransferApplication) -> None:
    source = load_for_change(session, ctx, cmd)
    target = target_status(source, cmd.type, variant=cmd.mode)
    vacancy = session.scalar(
        select(Vacancy).where(
            Vacancy.id == cmd.target_vacancy_id, Vacancy.organisation_id == ctx.organisation_id
        )
    )
    if vacancy is None:
        raise Refused(RefusalCode.NOT_FOUND, f"vacancy {cmd.target_vacancy_id} not found")
    if not vacancy.is_open:
        raise Refused(RefusalCode.VACANCY_CLOSED, f"vacancy {vacancy.id} is closed")
    existing = session.scalar(
        select(Application.id).where(
            Application.vacancy_id == vacancy.id, Application.applicant_id == source.applicant_id
        )
    )
    if existing is not None:  # includes a transfer to the application's own vacancy
        raise Refused(
            RefusalCode.ALREADY_APPLIED,
            f"applicant {source.applicant_id} already has an application for vacancy {vacancy.id}",
        )

    copy = Application(
        id=new_id(),
        organisation_id=ctx.organisation_id,
        vacancy_id=vacancy.id,
        applicant_id=source.applicant_id,
        status=ApplicationStatus.RECEIVED,
        cv_document_id=source.cv_document_id,
        screening_answers=[],
        transferred_from_id=source.id,
        version=1,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    session.add(copy)
    record(session, ctx, copy, None, "application.transferred_in")
    change(session, ctx, source, target, "application.transferred_out")
    if cmd.mode == "move":
        cancel_pending_mail(session, ctx, source.id)
        cancel_interviews(session, ctx, source.id)
    ctx.result["new_application_id"] = str(copy.id)
    publish_event(
        session,
        ApplicationTransferred(
            occurred_at=ctx.now,
            organisation_id=ctx.organisation_id,
            application_id=source.id,
            new_application_id=copy.id,
            target_vacancy_id=vacancy.id,
            mode=cmd.mode,
            command_id=ctx.command_id,
        ),
    )
