"""Delivering a scheduled mail job: compose once, claim, send, record.

Safe to run twice: the email row is unique per job, so a redelivered message finds
the email it already composed and only sends what is not sent yet.

An email with a secret in it (the credentials email's set-password link) is the
exception: the row keeps a redacted copy (``Composed.stored``), and the real message is
sent from memory by the delivery that composed it. A redelivery that finds such an email
still ``pending`` (composed, never sent, its live message lost with the worker) composes
it again, which mints a new link and revokes the old one, instead of sending the redacted
copy. It is never resent after an attempt (``delivery.AT_MOST_ONCE``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.mail_worker.delivery import claim, send
from services.mail_worker.mailer import SmtpMailer
from shared.commands import JobMessage
from shared.db.database import Database
from shared.db.models import OutboundEmail, ScheduledJob
from shared.db.types import utcnow
from shared.errors import PermanentError, TransientError
from shared.ids import new_id

log = structlog.get_logger(__name__)

# Purposes whose row keeps a redacted copy (a link with a token): a pending one is
# composed again, not sent.
LIVE_ONLY = frozenset({"credentials", "panel_review_invitation"})


@dataclass(frozen=True, slots=True)
class Composed:
    """A ready message: headers fixed (Message-ID included), parts and attachments.

    ``stored`` is the copy to keep in ``outbound_emails.mime`` when the message holds a
    secret (the same message with the secret redacted); None keeps ``message`` itself.
    """

    message: EmailMessage
    sender: str
    recipient: str
    # The envelope when it is more than ``recipient`` (Cc, Bcc, several To).
    envelope_recipients: tuple[str, ...] = ()
    stored: EmailMessage | None = None


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
        ids = JobMessage.model_validate(message)
    except ValueError as exc:
        raise PermanentError(f"malformed message: {exc}") from None
    prepared = _prepare(db, compose, ids)
    if prepared is None:
        return
    email_id, sender, live = prepared
    email = claim(db, email_id, lease=lease)
    if email is None:
        log.info("email.already_handled", email_id=str(email_id))
        return
    if live is not None:
        if email.message_id_header != str(live["Message-ID"]):
            # Another delivery composed it again between our compose and our claim, which
            # revoked our link: give the claim back and retry, composing afresh.
            _unclaim(db, email.id)
            raise TransientError(f"email {email.id} was composed again meanwhile")
        # claim() hands back a detached row: this changes what send() reads, not the row.
        email.mime = live.as_bytes()
    send(db, mailer, email, sender)


def _prepare(
    db: Database, compose: Composer, ids: JobMessage
) -> tuple[UUID, str, EmailMessage | None] | None:
    """The job's email (id, sender, and the live message when it holds a secret),
    composed on the first delivery; None when the job was cancelled."""
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
        if existing is not None and not (
            existing.purpose in LIVE_ONLY and existing.state == "pending"
        ):
            return existing.id, existing.sender, None
        composed = compose(session, job)
        kept = composed.stored or composed.message
        live = None if composed.stored is None else composed.message
        if existing is not None:  # composed before, never sent, its live message lost
            existing.sender = composed.sender
            existing.recipient = composed.recipient
            existing.envelope_recipients = list(
                composed.envelope_recipients or (composed.recipient,)
            )
            existing.message_id_header = str(composed.message["Message-ID"])
            existing.mime = kept.as_bytes()
            existing.updated_at = utcnow()
            log.info("email.composed_again", email_id=str(existing.id), purpose=job.purpose)
            return existing.id, composed.sender, live
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
            mime=kept.as_bytes(),
            state="pending",
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        session.add(email)
        return email.id, composed.sender, live


def _unclaim(db: Database, email_id: UUID) -> None:
    """Put an email this delivery claimed but did not send back to ``pending``."""
    with db.transaction() as session:
        session.execute(
            update(OutboundEmail)
            .where(OutboundEmail.id == email_id, OutboundEmail.state == "sending")
            .values(state="pending", lease_until=None, updated_at=utcnow())
        )
