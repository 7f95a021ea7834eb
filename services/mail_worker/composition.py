"""Composing the email of a scheduled job: who it goes to, in which language, with
which values, rendered from the templates, with its headers fixed once."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime as rfc2822_date
from email.utils import formataddr, make_msgid
from typing import Any, TypeVar, cast
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.mail_worker.calendar import interview_ics
from services.mail_worker.credentials import issue_set_password_link, redacted_copy
from services.mail_worker.formatting import (
    format_date,
    format_datetime,
    format_duration,
    format_names,
    format_salary,
)
from services.mail_worker.jobs import Composed
from services.mail_worker.locales import Locale
from services.mail_worker.purposes import Purpose
from shared.db.models import (
    Applicant,
    Application,
    CommandRecord,
    Interview,
    Offer,
    Organisation,
    RejectionReason,
    ScheduledJob,
    Vacancy,
)
from shared.emails.overrides import find_override, template_set
from shared.emails.rendering import RenderedEmail, render_email
from shared.emails.template_set import TemplatePartProblem
from shared.errors import PermanentError
from shared.settings import get_settings

M = TypeVar("M")

# Purposes the status worker schedules.
SUPPORTED: frozenset[str] = frozenset(
    {
        "receipt",
        "rejection",
        "interview_invitation",
        "offer",
        "credentials",
        "withdrawal_confirmation",
    }
)


def compose(session: Session, job: ScheduledJob) -> Composed:
    if job.purpose not in SUPPORTED:
        raise PermanentError(f"mail purpose {job.purpose!r} cannot be sent yet")
    if job.application_id is None:
        raise PermanentError(f"mail job {job.id} names no application")
    application = _owned(session, Application, job.application_id, job.organisation_id)
    applicant = _owned(session, Applicant, application.applicant_id, job.organisation_id)
    vacancy = _owned(session, Vacancy, application.vacancy_id, job.organisation_id)
    organisation = session.get(Organisation, job.organisation_id)
    assert organisation is not None
    locale = cast(Locale, applicant.locale or organisation.default_locale)

    context: dict[str, object] = {
        "applicant_name": applicant.name,
        "applicant_first_name": applicant.name.split()[0],
        "vacancy_title": vacancy.title,
        "organisation_name": organisation.name,
        "recruiter_name": _recruiter(session, job) or organisation.name,
    }
    context.update(_purpose_values(session, job, locale))
    # credentials: the account and a new one-time link, minted now (the old one revoked).
    link = (
        issue_set_password_link(session, applicant, base_url=get_settings().portal_base_url)
        if job.purpose == "credentials"
        else None
    )
    if link is not None:
        context.update(link.template_values(locale))
    rendered = _render(session, job, locale, context)

    sender = organisation.sender_email or get_settings().default_sender
    message = EmailMessage()
    message["From"] = formataddr((organisation.sender_name or organisation.name, sender))
    message["To"] = formataddr((applicant.name, applicant.email))
    message["Subject"] = rendered.subject
    message["Date"] = rfc2822_date(datetime.now(UTC))
    # Fixed before the first attempt; the sender's domain, never this host's name.
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if job.purpose == "interview_invitation":
        interview = _owned(
            session, Interview, UUID(job.payload["interview_id"]), job.organisation_id
        )
        message.add_attachment(
            interview_ics(
                uid=f"{interview.id}@{sender.rpartition('@')[2]}",
                start=interview.starts_at,
                duration_minutes=interview.duration_minutes,
                summary=f"{vacancy.title} - {organisation.name}",
                location=interview.location or interview.video_link or "",
                description=rendered.text,
                organizer_email=sender,
                attendee_email=applicant.email,
                organizer_name=organisation.name,
                attendee_name=applicant.name,
            ),
            maintype="text",
            subtype="calendar",
            filename="invitation.ics",
            params={"method": "REQUEST"},
        )
    message["Content-Language"] = locale  # after the parts: set_content clears Content-*
    # The link is sent, never kept: the stored copy has its token redacted.
    stored = None if link is None else redacted_copy(message, link.token)
    return Composed(message=message, sender=sender, recipient=applicant.email, stored=stored)


def _render(
    session: Session, job: ScheduledJob, locale: Locale, context: dict[str, object]
) -> RenderedEmail:
    """The organisation's own template for the purpose and locale when it has one, else the
    built-in. A template that cannot render fails the job for good: a retry cannot fix it."""
    purpose = cast(Purpose, job.purpose)
    row = find_override(session, job.organisation_id, purpose, locale)
    try:
        return render_email(
            purpose, locale, context, override=None if row is None else template_set(row)
        )
    except TemplatePartProblem as problem:
        which = "built-in template" if row is None else f"organisation template v{row.version}"
        raise PermanentError(f"template_error: {purpose}/{locale} {which}: {problem}") from None


def _purpose_values(session: Session, job: ScheduledJob, locale: Locale) -> dict[str, object]:
    payload: dict[str, Any] = job.payload
    if job.purpose == "rejection":
        reason = session.get(RejectionReason, UUID(payload["reason_id"]))
        label = "" if reason is None else (reason.label_nl if locale == "nl" else reason.label_en)
        return {"reason": label}
    if job.purpose == "interview_invitation":
        interview = _owned(session, Interview, UUID(payload["interview_id"]), job.organisation_id)
        return {
            "interview_type": interview.interview_type,
            "interview_start": format_datetime(interview.starts_at, locale),
            "interview_duration": format_duration(interview.duration_minutes, locale),
            "interview_location": interview.location or "",
            "interview_link": interview.video_link or "",
            "interviewers": format_names(interview.interviewers, locale),
            "response_link": "",
        }
    if job.purpose == "offer":
        offer = _owned(session, Offer, UUID(payload["offer_id"]), job.organisation_id)
        return {
            "offer_salary": format_salary(
                offer.salary_amount, offer.salary_currency, cast(Any, offer.salary_period), locale
            ),
            "offer_start_date": format_date(offer.start_date, locale),
            "offer_expires": format_datetime(offer.expires_at, locale) if offer.expires_at else "",
            "message": offer.message or "",
        }
    return {}


def _recruiter(session: Session, job: ScheduledJob) -> str | None:
    if job.command_id is None:
        return None
    return session.scalar(
        select(CommandRecord.payload["actor"].as_string()).where(CommandRecord.id == job.command_id)
    )


def _owned(session: Session, model: type[M], row_id: UUID, organisation_id: UUID) -> M:
    row = session.get(model, row_id)
    if row is None or getattr(row, "organisation_id", None) != organisation_id:
        raise PermanentError(f"{model.__name__} {row_id} not found for the job's organisation")
    return row
