"""Delivering a scheduled mail job: compose once and claim (one transaction), send,
record. An email whose template fails is recorded as failed, with its event, and the job
is settled (:class:`TemplateFailure`).

Safe to run twice: the email row is unique per job, and written already claimed while
the job's row is locked, so a redelivered message finds the email it composed and only
sends what is not sent yet (a ``pending`` email, or one whose sender's lease ran out).

An email with a secret in it (the credentials email's set-password link) is the
exception: the row keeps a redacted copy (``Composed.stored``), and the real message is
sent from memory by the delivery that composed it. A redelivery that finds such an email
``pending`` again (a 4xx reply, its live message gone with that delivery) composes it
again, which mints a new link and revokes the old one, instead of sending the redacted
copy. It is never resent after an attempt whose outcome is unknown
(``delivery.AT_MOST_ONCE``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Final
from uuid import UUID

import structlog
from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from services.mail_worker.delivery import Sendable, claim_locked, record_unsendable, send
from services.mail_worker.mailer import SmtpMailer
from services.mail_worker.messages import OutgoingMessage
from shared.commands import JobMessage
from shared.db.database import Database
from shared.db.deferred_writes import append
from shared.db.driver_statements import run
from shared.db.loaded_rows import attach, columns
from shared.db.models import Application, EmailTemplate, OutboundEmail, ScheduledJob
from shared.db.types import utcnow
from shared.emails.overrides import OVERRIDE_COLUMNS, FoundOverride, found_override
from shared.errors import PermanentError, RetryLater
from shared.ids import new_id
from shared.messaging.limits import MAX_BACKOFF_MS
from shared.templates.application_values import (
    SUBJECT_COLUMNS,
    SUBJECT_LOCALE,
    SUBJECT_TABLES,
    JobSubject,
    attach_subject,
)

log = structlog.get_logger(__name__)

# A job that finds its email claimed by another delivery comes back this long after the
# lease runs out (and never later than the longest backoff, which the worker's screening
# allows a retried message).
LEASE_SLACK_MS: Final = 1_000

# Purposes whose row keeps a redacted copy (a link with a token): a pending one is
# composed again, not sent.
LIVE_ONLY = frozenset({"credentials", "panel_review_invitation", "talent_pool_consent"})


@dataclass(frozen=True, slots=True)
class Composed:
    """A ready message: its MIME bytes, headers fixed (Message-ID included), parts and
    attachments.

    ``stored`` is the copy to keep in ``outbound_emails.mime`` when the message holds a
    secret (the same message with the secret redacted); None keeps ``message`` itself.
    """

    message: OutgoingMessage
    recipient: str
    # The envelope when it is more than ``recipient`` (Cc, Bcc, several To).
    envelope_recipients: tuple[str, ...] = ()
    stored: bytes | None = None

    @property
    def sender(self) -> str:
        return self.message.sender


class TemplateFailure(PermanentError):  # noqa: N818 - an outcome recorded on the email
    """The job's email cannot be composed: its template does not render with the job's
    values (``reason`` starts ``template_error:``, naming the template, part and line).
    The email is recorded as failed, with its event, and the job is settled: a retry
    would fail the same way. ``sender`` and ``recipients`` are the email's as composed
    so far, for the record."""

    def __init__(self, reason: str, *, sender: str, recipients: tuple[str, ...]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sender = sender
        self.recipients = recipients


@dataclass(frozen=True, slots=True)
class ClaimReads:
    """What the claim read with the job, for composing its email: the job's subject, and
    the organisation's template for the job's purpose in the subject's locale. What is
    None here, the composer reads itself."""

    subject: JobSubject | None = None
    template: FoundOverride | None = None


Composer = Callable[[Session, ScheduledJob, ClaimReads], Composed]


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
    started = time.perf_counter()
    try:
        claimed = _claim_job_email(db, compose, ids, lease=lease)
    except TemplateFailure as failure:  # the claim's transaction is rolled back
        _record_failure(db, ids, failure, started)
        return
    if claimed is None:
        return
    email, sender = claimed
    send(db, mailer, email, sender)


def _record_failure(
    db: Database, ids: JobMessage, failure: TemplateFailure, started: float
) -> None:
    """The job's email recorded as failed with the reason, and ``email.failed`` told."""
    with db.transaction() as session:
        job = session.scalar(
            select(ScheduledJob)
            .where(
                ScheduledJob.id == ids.job_id,
                ScheduledJob.organisation_id == ids.organisation_id,
            )
            .with_for_update()
        )
        if job is None or job.status == "cancelled":  # purged or cancelled meanwhile
            return
        email_id = record_unsendable(
            session,
            job,
            reason=failure.reason,
            sender=failure.sender,
            recipients=failure.recipients,
        )
    # The reason stays in the email's row: a value of the job may be quoted in it.
    log.warning(
        "email.template_failed",
        job_id=str(ids.job_id),
        purpose=job.purpose,
        email_id=None if email_id is None else str(email_id),
        ms=round((time.perf_counter() - started) * 1000, 1),  # the claim that failed
    )


def _claim_job_email(
    db: Database, compose: Composer, ids: JobMessage, *, lease: timedelta
) -> tuple[Sendable, str] | None:
    """The job's email, claimed for sending (composed first when this is the first
    delivery), and its sender; None when the job was cancelled or the email is done or
    another worker holds it.

    One transaction, holding the job's row lock throughout: a duplicate delivery waits,
    then finds the email claimed.
    """
    with db.transaction() as session:
        job, email_id, reads = _lock_job(session, ids)
        if job.status == "cancelled":
            log.info("email.cancelled_before_sending", job_id=str(job.id), purpose=job.purpose)
            return None
        existing = None
        if email_id is not None:
            existing = session.get(OutboundEmail, email_id, with_for_update=True)
            assert existing is not None
            if not (existing.purpose in LIVE_ONLY and existing.state == "pending"):
                claimed = claim_locked(existing, lease=lease)
                if claimed is not None:
                    return claimed, existing.sender
                if existing.state == "sending":  # under a live lease: not done, not ours
                    raise _sent_elsewhere(existing)
                log.info("email.already_handled", email_id=str(existing.id))
                return None
        composed = compose(session, job, reads)
        if existing is not None:  # composed before, never sent, its live message lost
            log.info("email.composed_again", email_id=str(existing.id), purpose=job.purpose)
            return _recomposed(existing, composed, lease), composed.sender
        return _written_claimed(session, job, composed, lease), composed.sender


def _sent_elsewhere(email: OutboundEmail) -> RetryLater:
    """The job's email is claimed by another delivery (or one that died) until its lease
    runs out: this one comes back then, to find it settled or to claim it. Acknowledging
    it as done would leave the email to nobody should that delivery never finish."""
    assert email.lease_until is not None
    remaining_ms = (email.lease_until - utcnow()) / timedelta(milliseconds=1)
    delay_ms = min(max(int(remaining_ms) + LEASE_SLACK_MS, LEASE_SLACK_MS), MAX_BACKOFF_MS)
    log.info("email.held_by_another_delivery", email_id=str(email.id), retry_in_ms=delay_ms)
    return RetryLater(
        f"email {email.id} is being sent by another delivery (lease until"
        f" {email.lease_until.isoformat()})",
        delay_ms=delay_ms,
    )


def _lock_job(session: Session, ids: JobMessage) -> tuple[ScheduledJob, UUID | None, ClaimReads]:
    """The job, locked; the id of its email when it has one; what composing it reads
    (one statement)."""
    params = {"job": ids.job_id, "organisation": ids.organisation_id}
    rows = run(session.connection(), _JOB_AND_EMAIL, params)
    job = attach(session, ScheduledJob, rows[0], "job__") if rows else None
    if job is None:
        raise PermanentError(f"mail job {ids.job_id} not found for its organisation")
    row = rows[0]
    subject = attach_subject(session, row)
    if subject is None:
        return job, row.email_id, ClaimReads()
    return job, row.email_id, ClaimReads(subject, found_override(row, job.purpose, row.locale))


def _stored_values(composed: Composed) -> dict[str, Any]:
    """What the email row keeps of a composed message: the redacted copy when it has one."""
    return {
        "sender": composed.sender,
        "recipient": composed.recipient,
        "envelope_recipients": _recipients(composed),
        "message_id_header": composed.message.message_id,
        "mime": composed.stored or composed.message.mime,
    }


def _recipients(composed: Composed) -> list[str]:
    return list(composed.envelope_recipients or (composed.recipient,))


def _recomposed(email: OutboundEmail, composed: Composed, lease: timedelta) -> Sendable:
    """``email`` (pending) with its new content, claimed; the live message to send."""
    for key, value in _stored_values(composed).items():
        setattr(email, key, value)
    claimed = claim_locked(email, lease=lease)
    assert claimed is not None  # it was pending
    return replace(claimed, mime=composed.message.mime)


def _written_claimed(
    session: Session, job: ScheduledJob, composed: Composed, lease: timedelta
) -> Sendable:
    """A new email row for ``job``, written at commit, already claimed: the transaction
    holds the job's lock, so no other delivery can see it before it is."""
    now = utcnow()
    email_id = new_id()
    row = _stored_values(composed) | {
        "id": email_id,
        "organisation_id": job.organisation_id,
        "application_id": job.application_id,
        "job_id": job.id,
        "command_id": job.command_id,
        "purpose": job.purpose,
        "state": "sending",
        "attempts": 1,
        "lease_until": now + lease,
        "created_at": now,
        "updated_at": now,
    }
    append(session, OutboundEmail, row)
    # The live message, never the redacted copy, is what goes out.
    return Sendable(
        email_id,
        job.purpose,
        composed.message.mime,
        _recipients(composed),
        job.organisation_id,
        job.application_id,
    )


_jobs: Table = ScheduledJob.__table__  # type: ignore[assignment]
_emails: Table = OutboundEmail.__table__  # type: ignore[assignment]
_templates: Table = EmailTemplate.__table__  # type: ignore[assignment]
# The job, locked, the id of its email when it has one, and what the first delivery
# composes from: the job's subject when it names one, the locale it is written in, and
# the organisation's template for the job's purpose in that locale when it has one.
_JOB_AND_EMAIL: Final = (
    select(
        *columns(ScheduledJob, "job__"),
        _emails.c.id.label("email_id"),
        *SUBJECT_COLUMNS,
        SUBJECT_LOCALE.label("locale"),
        *OVERRIDE_COLUMNS,
    )
    .select_from(
        _jobs.outerjoin(_emails, _emails.c.job_id == _jobs.c.id)
        .outerjoin(
            SUBJECT_TABLES,
            (Application.id == _jobs.c.application_id)
            & (Application.organisation_id == _jobs.c.organisation_id),
        )
        .outerjoin(
            _templates,
            (_templates.c.organisation_id == _jobs.c.organisation_id)
            & (_templates.c.purpose == _jobs.c.purpose)
            & (_templates.c.locale == SUBJECT_LOCALE),
        )
    )
    .where(_jobs.c.id == bindparam("job"), _jobs.c.organisation_id == bindparam("organisation"))
    .with_for_update(of=_jobs)
)
