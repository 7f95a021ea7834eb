"""Moving an application forward: interviews, saving, portal credentials."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.status_worker.changes import (
    change,
    check_email_template,
    load_for_change,
    schedule_mail,
    target_status,
)
from services.status_worker.unit_of_work import CommandContext
from shared.commands import InviteToInterview, SaveAndSendCredentials, SaveApplication
from shared.db.models import Applicant, Application, Interview
from shared.events import InterviewScheduled
from shared.ids import new_id
from shared.messaging.outbox import publish_event
from shared.retention.consent import give_consent


def invite_to_interview(session: Session, ctx: CommandContext, cmd: InviteToInterview) -> None:
    application = load_for_change(session, ctx, cmd)
    target = target_status(application, cmd.type)
    check_email_template(cmd.template, "interview_invitation")
    interview = Interview(
        id=new_id(),
        organisation_id=ctx.organisation_id,
        application_id=application.id,
        command_id=ctx.command_id,
        interview_type=cmd.interview_type,
        starts_at=cmd.start,
        duration_minutes=cmd.duration_minutes,
        location=cmd.location,
        video_link=cmd.video_link,
        interviewers=list(cmd.interviewers),
        status="scheduled",
        created_at=ctx.now,
    )
    session.add(interview)
    change(session, ctx, application, target, "application.interview_scheduled")
    schedule_mail(
        session,
        ctx,
        application.id,
        "interview_invitation",
        due_at=cmd.send_at,
        interview_id=interview.id,
    )
    publish_event(
        session,
        InterviewScheduled(
            occurred_at=ctx.now,
            organisation_id=ctx.organisation_id,
            application_id=application.id,
            interview_id=interview.id,
            command_id=ctx.command_id,
            starts_at=cmd.start,
        ),
    )


def save_application(session: Session, ctx: CommandContext, cmd: SaveApplication) -> None:
    application = load_for_change(session, ctx, cmd)
    target = target_status(application, cmd.type)
    change(session, ctx, application, target, "application.saved", note=cmd.note)
    _join_talent_pool(session, ctx, application)


def save_and_send_credentials(
    session: Session, ctx: CommandContext, cmd: SaveAndSendCredentials
) -> None:
    """The status part; mail_worker creates the account and the one-time link at send time."""
    application = load_for_change(session, ctx, cmd)
    target = target_status(application, cmd.type)
    check_email_template(cmd.template, "credentials")
    change(session, ctx, application, target, "application.saved")
    _join_talent_pool(session, ctx, application)
    schedule_mail(session, ctx, application.id, "credentials")


def _join_talent_pool(session: Session, ctx: CommandContext, application: Application) -> None:
    """Into the pool, with the applicant's consent for the policy's months (the
    recruiter saves an applicant who agreed to stay; a running consent is kept)."""
    applicant = session.get(Applicant, application.applicant_id)
    assert applicant is not None  # the foreign key guarantees it
    applicant.in_talent_pool = True
    give_consent(session, ctx.organisation_id, applicant.id, ctx.now)
