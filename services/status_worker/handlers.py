"""The rules of each status command. Handlers check everything before they write,
so a refusal leaves nothing behind; the unit of work records the outcome."""

from __future__ import annotations

from uuid import UUID

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.status_worker import transitions
from services.status_worker.unit_of_work import CommandContext
from shared.commands import ApplicationCommand, RegisterApplication, WithdrawApplication
from shared.db.models import Applicant, Application, ApplicationEvent, Vacancy
from shared.errors import RefusalCode, Refused
from shared.events import ApplicationStatusChanged
from shared.messaging.outbox import publish_event
from shared.statuses import ApplicationStatus

log = structlog.get_logger(__name__)


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
    else:
        assert cmd.applicant is not None  # the model requires exactly one
        applicant = Applicant(
            organisation_id=ctx.organisation_id,
            name=cmd.applicant.name,
            email=cmd.applicant.email,
            phone=cmd.applicant.phone,
            locale=cmd.applicant.locale,
            created_at=ctx.now,
        )
        session.add(applicant)
        session.flush()

    assert ctx.application_id is not None  # assigned when the command was accepted
    application = Application(
        id=ctx.application_id,
        organisation_id=ctx.organisation_id,
        vacancy_id=vacancy.id,
        applicant_id=applicant.id,
        status=ApplicationStatus.RECEIVED,
        application_text=cmd.application_text,
        screening_answers=[a.model_dump() for a in cmd.screening_answers],
        version=1,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    session.add(application)
    _record_change(session, ctx, application, None, "application.registered")


def withdraw_application(session: Session, ctx: CommandContext, cmd: WithdrawApplication) -> None:
    application = _load_for_change(session, ctx, cmd)
    target = transitions.next_status(cmd.type, ApplicationStatus(application.status))
    _change_status(session, ctx, application, target, "application.withdrawn", cmd.reason, cmd.note)


def _load_for_change(session: Session, ctx: CommandContext, cmd: ApplicationCommand) -> Application:
    """Lock the application this command acts on, checking that it may change at all."""
    application = _locked_application(session, ctx.organisation_id, cmd.application_id)
    if application is None:
        raise Refused(RefusalCode.NOT_FOUND, f"application {cmd.application_id} not found")
    if application.deleted_at is not None:
        raise Refused(RefusalCode.DELETED, f"application {cmd.application_id} is deleted")
    if cmd.expected_version is not None and cmd.expected_version != application.version:
        raise Refused(
            RefusalCode.VERSION_CONFLICT,
            f"application {cmd.application_id} is at version {application.version},"
            f" not {cmd.expected_version}",
        )
    return application


def _locked_application(
    session: Session, organisation_id: UUID, application_id: UUID
) -> Application | None:
    return session.scalar(
        select(Application)
        .where(Application.id == application_id, Application.organisation_id == organisation_id)
        .with_for_update()
    )


def _change_status(
    session: Session,
    ctx: CommandContext,
    application: Application,
    target: ApplicationStatus,
    event_type: str,
    reason: str | None = None,
    note: str | None = None,
) -> None:
    before = ApplicationStatus(application.status)
    application.status_before = before
    application.status = target
    application.version += 1
    application.updated_at = ctx.now
    _record_change(session, ctx, application, before, event_type, reason, note)


def _record_change(
    session: Session,
    ctx: CommandContext,
    application: Application,
    before: ApplicationStatus | None,
    event_type: str,
    reason: str | None = None,
    note: str | None = None,
) -> None:
    """Write the history row and tell subscribers, in the command's transaction."""
    after = ApplicationStatus(application.status)
    session.add(
        ApplicationEvent(
            organisation_id=ctx.organisation_id,
            application_id=application.id,
            command_id=ctx.command_id,
            event_type=event_type,
            actor=ctx.actor,
            from_status=before,
            to_status=after,
            reason=reason,
            note=note,
            occurred_at=ctx.now,
        )
    )
    publish_event(
        session,
        ApplicationStatusChanged(
            occurred_at=ctx.now,
            organisation_id=ctx.organisation_id,
            application_id=application.id,
            vacancy_id=application.vacancy_id,
            command_id=ctx.command_id,
            from_status=before,
            to_status=after,
            version=application.version,
        ),
    )
    log.info("application.status_changed", from_status=before, to_status=after)
