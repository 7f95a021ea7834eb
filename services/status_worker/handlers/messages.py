"""send_email, forward_cv and send_letter: checked here, carried out by other workers.

They change no status and no version; each writes a history row and schedules a
job for mail_worker, or for document_worker (printed letters, contracts, anonymized
profiles), which then schedules the email with the PDF. The job names the command,
whose fields the worker reads when it composes the message.
"""

from __future__ import annotations

import secrets
from typing import Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.status_worker.changes import (
    load_for_change,
    record,
    schedule_document,
    schedule_mail,
    target_status,
)
from services.status_worker.unit_of_work import CommandContext
from shared.commands import ForwardCv, SendEmail, SendEmploymentContract, SendLetter
from shared.db.models import Document
from shared.errors import RefusalCode, Refused
from shared.statuses import ApplicationStatus

# Contract templates a command may name; an organisation's own contract body replaces
# the built-in one by itself (/v1/document-templates).
CONTRACT_TEMPLATES: Final = frozenset({"contract"})


def send_email(session: Session, ctx: CommandContext, cmd: SendEmail) -> None:
    application = load_for_change(session, ctx, cmd)
    target_status(application, cmd.type)
    documents = list(dict.fromkeys(cmd.attachments))
    found = (
        set(
            session.scalars(
                select(Document.id).where(
                    Document.id.in_(documents),
                    # The application's own documents and its uploaded CV, as listed.
                    or_(
                        Document.application_id == application.id,
                        Document.id == application.cv_document_id,
                    ),
                    Document.organisation_id == ctx.organisation_id,
                )
            )
        )
        if documents
        else set()
    )
    missing = [str(d) for d in documents if d not in found]
    if missing:
        raise Refused(
            RefusalCode.UNKNOWN_DOCUMENT,
            f"attachments: no document {', '.join(missing)} for this application",
        )
    ids: dict[str, object] = {"command_id": ctx.command_id}
    if documents:
        ids["document_ids"] = [str(d) for d in documents]
    schedule_mail(session, ctx, application.id, "ad_hoc", due_at=cmd.send_at, **ids)
    record(session, ctx, application, ApplicationStatus(application.status), "email.requested")


def forward_cv(session: Session, ctx: CommandContext, cmd: ForwardCv) -> None:
    application = load_for_change(session, ctx, cmd)
    target_status(application, cmd.type)
    # Random, so it cannot be traced back to the applicant's id.
    reference_code = secrets.token_hex(4).upper()
    if cmd.anonymize:
        # document_worker renders the one-page profile, then schedules the email with it.
        schedule_document(
            session,
            ctx,
            application.id,
            "profile",
            command_id=ctx.command_id,
            reference_code=reference_code,
        )
    else:
        files = (
            [application.cv_document_id] if cmd.include_cv and application.cv_document_id else []
        )
        if cmd.include_attachments:
            files += session.scalars(
                select(Document.id)
                .where(
                    Document.application_id == application.id,
                    Document.organisation_id == ctx.organisation_id,
                    Document.kind.in_(("contract", "letter")),
                )
                .order_by(Document.created_at)
            )
        schedule_mail(
            session,
            ctx,
            application.id,
            "cv_forward",
            command_id=ctx.command_id,
            reference_code=reference_code,
            document_ids=[str(f) for f in files],
        )
    record(
        session,
        ctx,
        application,
        ApplicationStatus(application.status),
        "cv.forwarded_anonymized" if cmd.anonymize else "cv.forwarded",
    )


def send_letter(session: Session, ctx: CommandContext, cmd: SendLetter) -> None:
    application = load_for_change(session, ctx, cmd)
    target_status(application, cmd.type)
    purpose = f"letter_{cmd.letter}"
    schedule = schedule_mail if cmd.channel == "email" else schedule_document
    schedule(session, ctx, application.id, purpose, command_id=ctx.command_id)
    record(
        session,
        ctx,
        application,
        ApplicationStatus(application.status),
        f"letter.{cmd.letter}_sent",
    )


def send_employment_contract(
    session: Session, ctx: CommandContext, cmd: SendEmploymentContract
) -> None:
    application = load_for_change(session, ctx, cmd)
    target_status(application, cmd.type)
    if cmd.template is not None and cmd.template not in CONTRACT_TEMPLATES:
        raise Refused(
            RefusalCode.UNKNOWN_TEMPLATE,
            f"template {cmd.template!r} is not a contract template;"
            f" use one of {', '.join(sorted(CONTRACT_TEMPLATES))}",
        )
    # document_worker renders and stores the PDF, then schedules the email with it.
    schedule_document(session, ctx, application.id, "contract", command_id=ctx.command_id)
    record(session, ctx, application, ApplicationStatus(application.status), "contract.requested")
