"""Delivering a scheduled mail job: compose once, claim, send, record.

Safe to run twice: the email row is unique per job, so a redelivered message finds
the email it already composed and only sends what is not sent yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.mail_worker.delivery import claim, send
from services.mail_worker.mailer import SmtpMailer
from shared.commands import MailJobMessage
from shared.db.database import Database
from shared.db.models import OutboundEmail, ScheduledJob
from shared.db.types import utcnow
from shared.errors import PermanentError
from shared.ids import new_id

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Composed:
    """A ready message: headers fixed (Message-ID included), parts and attachments."""

    message: EmailMessage
    sender: str
    recipient: str
    # The envelope when it is more than ``recipient`` (Cc, Bcc, several To).
    envelope_recipients: tuple[str, ...] = ()


Composer = Callable[[Session, ScheduledJob], Composed]


def deliver_mail_job(
    db: Database,
    mailer: SmtpMailer,
    compose: Composer,
    message: dict[str, Any],
    *,
    lease: timedelta,
) -> None:
    try:
        ids = MailJobMessage.model_validate(message)
    except ValueError as exc:
        raise PermanentError(f"malformed message: {exc}") from None
    prepared = _prepare(db, compose, ids)
    if prepared is None:
        return
    email_id, sender = prepared
    email = claim(db, email_id, lease=lease)
    if email is None:
        log.info("email.already_handled", email_id=str(email_id))
        return
    send(db, mailer, email, sender)


def _prepare(db: Database, compose: Composer, ids: MailJobMessage) -> tuple[UUID, str] | None:
    """The job's email, composed on the first delivery; None when the job was cancelled."""
    with db.transaction() as session:
        job = session.scalar(
            select(ScheduledJob)
            .where(
                ScheduledJob.id == ids.job_id, ScheduledJob.organisation_id == ids.organisation_id
            )
            .with_for_update()
        )
        if job is None:
            raise PermanentError(f"mail job {ids.job_id} not found for its organisation")
        if job.status == "cancelled":
            log.info("email.cancelled_before_sending", job_id=str(job.id), purpose=job.purpose)
            return None
        existing = session.scalar(select(OutboundEmail).where(OutboundEmail.job_id == job.id))
        if existing is not None:
            return existing.id, existing.sender
        composed = compose(session, job)
        email = OutboundEmail(
            id=new_id(),
            organisation_id=job.organisation_id,
            application_id=job.application_id,
            job_id=job.id,
            command_id=job.command_id,
            purpose=job.purpose,
            sender=composed.sender,
            recipient=composed.recipient,
            envelope_recipients=list(composed.envelope_recipients or (composed.recipient,)),
            message_id_header=str(composed.message["Message-ID"]),
            mime=composed.message.as_bytes(),
            state="pending",
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        session.add(email)
        return email.id, composed.sender
