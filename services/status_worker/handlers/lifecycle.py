"""withdraw, delete and restore: an application leaving the process or the lists."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.status_worker.changes import (
    cancel_interviews,
    cancel_pending_mail,
    change,
    load_for_change,
    schedule_mail,
    target_status,
)
from services.status_worker.unit_of_work import CommandContext
from shared.commands import DeleteApplication, RestoreApplication, WithdrawApplication
from shared.db.models import Application
from shared.events import ApplicationDeleted, ApplicationFlagChanged, ApplicationRestored
from shared.messaging.outbox import publish_event


def withdraw_application(session: Session, ctx: CommandContext, cmd: WithdrawApplication) -> None:
    application = load_for_change(session, ctx, cmd)
    target = target_status(application, cmd.type)
    change(
        session, ctx, application, target, "application.withdrawn", reason=cmd.reason, note=cmd.note
    )
    cancel_pending_mail(session, ctx, application.id)
    cancel_interviews(session, ctx, application.id)
    if cmd.notify:
        schedule_mail(session, ctx, application.id, "withdrawal_confirmation")


def delete_application(session: Session, ctx: CommandContext, cmd: DeleteApplication) -> None:
    application = load_for_change(session, ctx, cmd)
    target = target_status(application, cmd.type)
    application.deleted_at = ctx.now
    change(session, ctx, application, target, "application.deleted", note=cmd.note)
    _announce(session, ctx, application, ApplicationDeleted)


def restore_application(session: Session, ctx: CommandContext, cmd: RestoreApplication) -> None:
    application = load_for_change(session, ctx, cmd)
    target = target_status(application, cmd.type)
    application.deleted_at = None
    change(session, ctx, application, target, "application.restored")
    _announce(session, ctx, application, ApplicationRestored)


def _announce(
    session: Session,
    ctx: CommandContext,
    application: Application,
    event: type[ApplicationFlagChanged],
) -> None:
    publish_event(
        session,
        event(
            occurred_at=ctx.now,
            organisation_id=ctx.organisation_id,
            application_id=application.id,
            vacancy_id=application.vacancy_id,
            command_id=ctx.command_id,
            version=application.version,
        ),
    )
