"""The building blocks every status handler uses: load and lock, change, record, schedule."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from uuid import UUID

import structlog
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from services.status_worker import transitions
from services.status_worker.unit_of_work import CommandContext
from shared.commands import ApplicationCommand
from shared.db.deferred_writes import append, defer
from shared.db.models import Application, ApplicationEvent, Interview, ScheduledJob
from shared.errors import RefusalCode, Refused
from shared.events import ApplicationStatusChanged
from shared.ids import new_id
from shared.messaging.outbox import publish_event
from shared.statuses import ApplicationStatus

log = structlog.get_logger(__name__)


def load_for_change(session: Session, ctx: CommandContext, cmd: ApplicationCommand) -> Application:
    """Lock the application the command acts on; refuse when it is missing or moved on."""
    application = ctx.application
    if application is None or application.id != cmd.application_id:
        application = session.scalar(
            select(Application)
            .where(
                Application.id == cmd.application_id,
                Application.organisation_id == ctx.organisation_id,
            )
            .with_for_update()
        )
    if application is None:
        raise Refused(RefusalCode.NOT_FOUND, f"application {cmd.application_id} not found")
    if cmd.expected_version is not None and cmd.expected_version != application.version:
        raise Refused(
            RefusalCode.VERSION_CONFLICT,
            f"application {cmd.application_id} is at version {application.version},"
            f" not {cmd.expected_version}",
        )
    return application


def target_status(
    application: Application, command_type: str, variant: str | None = None
) -> ApplicationStatus:
    """Check the transition table; the status the command leads to."""
    return transitions.next_status(
        command_type,
        ApplicationStatus(application.status),
        deleted=application.deleted_at is not None,
        status_before=(
            ApplicationStatus(application.status_before) if application.status_before else None
        ),
        variant=variant,
    )


def change(
    session: Session,
    ctx: CommandContext,
    application: Application,
    target: ApplicationStatus,
    event_type: str,
    *,
    reason: str | None = None,
    note: str | None = None,
) -> None:
    """Move the application to ``target`` (maybe its current status), bump its version,
    and record the change in its history and for subscribers."""
    before = ApplicationStatus(application.status)
    if target != before:
        application.status_before = before
        application.status = target
    application.version += 1
    application.updated_at = ctx.now
    record(session, ctx, application, before, event_type, reason=reason, note=note)


def record(
    session: Session,
    ctx: CommandContext,
    application: Application,
    before: ApplicationStatus | None,
    event_type: str,
    *,
    reason: str | None = None,
    note: str | None = None,
) -> None:
    """A history row, and ``application.status_changed`` when the status changed."""
    after = ApplicationStatus(application.status)
    append(
        session,
        ApplicationEvent,
        {
            "id": new_id(),
            "organisation_id": ctx.organisation_id,
            "application_id": application.id,
            "command_id": ctx.command_id,
            "event_type": event_type,
            "actor": ctx.actor,
            "from_status": before,
            "to_status": after,
            "reason": reason,
            "note": note,
            "occurred_at": ctx.now,
        },
    )
    if before != after:
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


def check_email_template(template: str | None, purpose: str) -> None:
    """Refuse a ``template`` the command cannot use. Only the purpose's own exists for
    now: the organisation's version of it when there is one, else the built-in."""
    if template is not None and template != purpose:
        raise Refused(
            RefusalCode.UNKNOWN_TEMPLATE,
            f"template {template!r} is not an email template for this command;"
            f" use {purpose!r} or leave it out",
        )


def schedule_mail(
    session: Session,
    ctx: CommandContext,
    application_id: UUID | None,
    purpose: str,
    *,
    due_at: datetime | None = None,
    **ids: Any,
) -> ScheduledJob:
    """An email for mail_worker, due now or at ``due_at``; cancellable until enqueued.

    The payload names ids and a template only; the mail worker loads the rest.
    """
    return _schedule(session, ctx, application_id, "mail", purpose, due_at=due_at, **ids)


def schedule_document(
    session: Session, ctx: CommandContext, application_id: UUID | None, purpose: str, **ids: Any
) -> ScheduledJob:
    """Work for document_worker (render and store a PDF, or erase files), due now."""
    return _schedule(session, ctx, application_id, "document", purpose, **ids)


def _schedule(
    session: Session,
    ctx: CommandContext,
    application_id: UUID | None,
    kind: str,
    purpose: str,
    *,
    due_at: datetime | None = None,
    **ids: Any,
) -> ScheduledJob:
    job = ScheduledJob(
        id=new_id(),
        organisation_id=ctx.organisation_id,
        application_id=application_id,
        command_id=ctx.command_id,
        kind=kind,
        purpose=purpose,
        payload={k: str(v) if isinstance(v, UUID) else v for k, v in ids.items()},
        due_at=max(due_at, ctx.now) if due_at else ctx.now,
        status="pending",
        created_at=ctx.now,
    )
    session.add(job)
    return job


def cancel_pending_mail(
    session: Session, ctx: CommandContext, application_id: UUID, purposes: tuple[str, ...] = ()
) -> None:
    """Cancel, at commit, the application's emails that have not gone to the mail worker
    yet; not the ones this command schedules."""
    params = _cancel_params(ctx, application_id)
    if purposes:
        defer(session, _CANCEL_MAIL_OF_PURPOSES, params | {"purposes": list(purposes)})
    else:
        defer(session, _CANCEL_MAIL, params)


def cancel_interviews(session: Session, ctx: CommandContext, application_id: UUID) -> None:
    """Cancel, at commit, the application's interviews that are still to come."""
    defer(session, _CANCEL_INTERVIEWS, _cancel_params(ctx, application_id))


def _cancel_params(ctx: CommandContext, application_id: UUID) -> dict[str, Any]:
    return {
        "application": application_id,
        "organisation": ctx.organisation_id,
        "command": ctx.command_id,
        "now": ctx.now,
    }


# Cancelled rows are never loaded in a command's session, so these bulk updates need
# no ORM synchronisation; they wait for the commit (shared.db.deferred_writes).
_jobs: Table = ScheduledJob.__table__  # type: ignore[assignment]
_interviews: Table = Interview.__table__  # type: ignore[assignment]
_CANCEL_MAIL: Final = (
    update(_jobs)
    .where(
        _jobs.c.application_id == bindparam("application"),
        _jobs.c.organisation_id == bindparam("organisation"),
        _jobs.c.status == "pending",
        _jobs.c.command_id.is_distinct_from(bindparam("command")),
    )
    .values(status="cancelled", cancelled_at=bindparam("now"))
)
_CANCEL_MAIL_OF_PURPOSES: Final = _CANCEL_MAIL.where(
    _jobs.c.purpose.in_(bindparam("purposes", expanding=True))
)
_CANCEL_INTERVIEWS: Final = (
    update(_interviews)
    .where(
        _interviews.c.application_id == bindparam("application"),
        _interviews.c.organisation_id == bindparam("organisation"),
        _interviews.c.status == "scheduled",
        _interviews.c.starts_at > bindparam("now"),
        _interviews.c.command_id.is_distinct_from(bindparam("command")),
    )
    .values(status="cancelled", cancelled_at=bindparam("now"))
)
