"""register_application: a new application, by a new or an existing applicant."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.status_worker.changes import record, schedule_mail
from services.status_worker.unit_of_work import CommandContext
from shared.commands import RegisterApplication
from shared.db.models import Applicant, Application, Document, Vacancy
from shared.errors import RefusalCode, Refused
from shared.ids import new_id
from shared.statuses import ApplicationStatus


def register_application(session: Session, ctx: CommandContext, cmd: RegisterApplication) -> None:
    vacancy = session.scalar(
        select(Vacancy).where(
            Vacancy.id == cmd.vacancy_id, Vacancy.organisation_id == ctx.organisation_id
        )
    )
    if vacancy is None:
        raise Refused(RefusalCode.NOT_FOUND, f"vacancy {cmd.vacancy_id} not found")
    if not vacancy.is_open:
        raise Refused(RefusalCode.VACANCY_CLOSED, f"vacancy {cmd.vacancy_id} is closed")
    if cmd.cv_document_id is not None and not session.scalar(
        select(Document.id).where(
            Document.id == cmd.cv_document_id,
            Document.organisation_id == ctx.organisation_id,
            Document.kind == "cv",
        )
    ):
        raise Refused(
            RefusalCode.UNKNOWN_DOCUMENT,
            f"cv_document_id: no uploaded CV {cmd.cv_document_id} (POST /v1/documents)",
        )

    if cmd.applicant_id is not None:
        applicant = session.scalar(
            select(Applicant).where(
                Applicant.id == cmd.applicant_id, Applicant.organisation_id == ctx.organisation_id
            )
        )
        if applicant is None:
            raise Refused(RefusalCode.NOT_FOUND, f"applicant {cmd.applicant_id} not found")
        already = session.scalar(
            select(Application.id).where(
                Application.vacancy_id == vacancy.id, Application.applicant_id == applicant.id
            )
        )
        if already is not None:
            raise Refused(
                RefusalCode.ALREADY_APPLIED,
                f"applicant {applicant.id} already applied for vacancy {vacancy.id}",
            )
        if cmd.cv_document_id is not None:
            applicant.cv_document_id = cmd.cv_document_id
    else:
        assert cmd.applicant is not None  # the model requires exactly one
        applicant = Applicant(
            id=new_id(),
            organisation_id=ctx.organisation_id,
            name=cmd.applicant.name,
            email=cmd.applicant.email,
            phone=cmd.applicant.phone,
            locale=cmd.applicant.locale,
            cv_document_id=cmd.cv_document_id,
            in_talent_pool=False,
            is_candidate=True,
            created_at=ctx.now,
        )
        session.add(applicant)

    assert ctx.application_id is not None  # assigned when the command was accepted
    application = Application(
        id=ctx.application_id,
        organisation_id=ctx.organisation_id,
        vacancy_id=vacancy.id,
        applicant_id=applicant.id,
        status=ApplicationStatus.RECEIVED,
        application_text=cmd.application_text,
        screening_answers=[a.model_dump() for a in cmd.screening_answers],
        cv_document_id=cmd.cv_document_id or applicant.cv_document_id,
        version=1,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    session.add(application)
    record(session, ctx, application, None, "application.registered")
    if cmd.send_receipt:
        schedule_mail(session, ctx, application.id, "receipt", letter="received")
