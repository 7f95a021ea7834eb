"""reject and unreject."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.status_worker.changes import (
    cancel_interviews,
    cancel_pending_mail,
    change,
    check_email_template,
    load_for_change,
    schedule_mail,
    target_status,
)
from services.status_worker.unit_of_work import CommandContext
from shared.commands import RejectApplication, UnrejectApplication
from shared.db.models import RejectionReason
from shared.errors import RefusalCode, Refused

REJECTION_MAIL = "rejection"


def reject_application(session: Session, ctx: CommandContext, cmd: RejectApplication) -> None:
    application = load_for_change(session, ctx, cmd)
    target = target_status(application, cmd.type)
    if cmd.email is not None:
        check_email_template(cmd.email.template, REJECTION_MAIL)
    reason = session.scalar(
        select(RejectionReason).where(
            RejectionReason.id == cmd.reason_id,
            RejectionReason.organisation_id == ctx.organisation_id,
            RejectionReason.active,
        )
    )
    if reason is None:
        raise Refused(RefusalCode.UNKNOWN_REASON, f"rejection reason {cmd.reason_id} not found")
    if reason.rejection_type != cmd.rejection_type:
        raise Refused(
            RefusalCode.UNKNOWN_REASON,
            f"rejection reason {cmd.reason_id} is of type {reason.rejection_type},"
            f" not {cmd.rejection_type}",
        )
    application.rejection_type = cmd.rejection_type
    application.rejection_reason_id = reason.id
    application.rejection_note = cmd.note
    change(
        session,
        ctx,
        application,
        target,
        "application.rejected",
        reason=reason.label_en,
        note=cmd.note,
    )
    cancel_interviews(session, ctx, application.id)
    if cmd.email is not None:
        schedule_mail(
            session,
            ctx,
            application.id,
            REJECTION_MAIL,
            due_at=cmd.email.send_at,
            reason_id=reason.id,
        )


def unreject_application(session: Session, ctx: CommandContext, cmd: UnrejectApplication) -> None:
    application = load_for_change(session, ctx, cmd)
    target = target_status(application, cmd.type)
    application.rejection_type = None
    application.rejection_reason_id = None
    application.rejection_note = None
    change(session, ctx, application, target, "application.unrejected")
    cancel_pending_mail(session, ctx, application.id, (REJECTION_MAIL,))
