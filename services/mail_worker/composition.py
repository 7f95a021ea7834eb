"""Composing the email of a scheduled job: who it goes to, in which language, with
which values, rendered from the templates, with its headers fixed once."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import formataddr, parseaddr
from functools import partial
from html import escape, unescape
from typing import Any, Final, NamedTuple, cast
from uuid import UUID

from sqlalchemy.orm import Session

from services.mail_worker.attachments import attachments
from services.mail_worker.calendar import interview_ics
from services.mail_worker.consent_reminders import compose_consent_reminder
from services.mail_worker.credentials import issue_set_password_link, redacted_copy
from services.mail_worker.jobs import ClaimReads, Composed, Composer, TemplateFailure
from services.mail_worker.messages import build_message, sender_of
from services.mail_worker.mime import Attachment
from services.mail_worker.review_invitations import compose_review_invitation
from shared.db.models import Applicant, Application, Interview, Offer, ScheduledJob
from shared.documents.storage import DocumentStorage
from shared.emails.formatting import (
    format_date,
    format_datetime,
    format_duration,
    format_names,
    format_salary,
)
from shared.emails.locales import Locale
from shared.emails.overrides import FoundOverride, Override, override_to_send
from shared.emails.purposes import PURPOSES, Purpose
from shared.emails.rendering import RenderedEmail, render_email
from shared.emails.sanitising import sanitised
from shared.emails.template_set import TemplatePartProblem
from shared.errors import PermanentError
from shared.links import sign
from shared.settings import get_settings
from shared.templates.application_values import (
    command_fields,
    job_subject,
    owned,
    reason_label,
    recruiter,
)

# Every email purpose, and "ad_hoc": send_email's own subject and body, or a template.
SUPPORTED: Final = frozenset(PURPOSES) | {"ad_hoc"}
FORWARDS: Final = frozenset({"cv_forward", "cv_forward_anonymized"})


def composer(storage: DocumentStorage) -> Composer:
    """``compose`` with the document store its attachments are read from."""
    return partial(compose, storage=storage)


def compose(
    session: Session,
    job: ScheduledJob,
    reads: ClaimReads = ClaimReads(),
    *,
    storage: DocumentStorage,
) -> Composed:
    if job.purpose not in SUPPORTED:
        raise PermanentError(f"mail purpose {job.purpose!r} cannot be sent yet")
    if job.purpose == "panel_review_invitation":  # to a reviewer, about several applicants
        return compose_review_invitation(session, job)
    if job.purpose == "talent_pool_consent":  # retention: a link minted now
        return compose_consent_reminder(session, job, reads)
    subject = reads.subject or job_subject(session, job)
    application, applicant, vacancy = subject.application, subject.applicant, subject.vacancy
    organisation, locale = subject.organisation, subject.locale
    context = subject.values(recruiter(session, job))
    command: dict[str, Any] = command_fields(session, job)
    context.update(_purpose_values(session, job, locale, application, command))
    if job.purpose == "ad_hoc":  # a template's values the application cannot give
        context.update(command.get("variables") or {})
    # credentials: the account and a new one-time link, minted now (the old one revoked).
    link = (
        issue_set_password_link(session, applicant, base_url=get_settings().portal_base_url)
        if job.purpose == "credentials"
        else None
    )
    if link is not None:
        context.update(link.template_values(locale))
    to, cc, envelope = _addressees(job, applicant, command)
    if job.purpose == "ad_hoc" and command.get("template") is None:
        rendered = _ad_hoc(command, locale)
    else:
        purpose = cast(Purpose, command.get("template") or job.purpose)
        override = _override(session, job, purpose, locale, found=reads.template)
        try:
            rendered = render_email(
                purpose, locale, context, override=None if override is None else override.templates
            )
        except TemplatePartProblem as problem:  # a retry cannot fix a template
            raise TemplateFailure(
                f"template_error: {purpose}/{locale} {_which(override)}: {problem}",
                sender=sender_of(organisation),
                recipients=envelope,
            ) from None

    reply_to = (
        command.get("reply_to") if job.purpose == "ad_hoc" or job.purpose in FORWARDS else None
    )
    files: list[Attachment] = []
    if job.purpose == "interview_invitation":
        interview = owned(
            session, Interview, UUID(job.payload["interview_id"]), job.organisation_id
        )
        organiser = sender_of(organisation)
        files.append(
            Attachment(
                interview_ics(
                    uid=f"{interview.id}@{organiser.rpartition('@')[2]}",
                    start=interview.starts_at,
                    duration_minutes=interview.duration_minutes,
                    summary=f"{vacancy.title} - {organisation.name}",
                    location=interview.location or interview.video_link or "",
                    description=rendered.text,
                    organizer_email=organiser,
                    attendee_email=applicant.email,
                    organizer_name=organisation.name,
                    attendee_name=applicant.name,
                ),
                "text/calendar",
                "invitation.ics",
                {"method": "REQUEST"},
            )
        )
    files += [
        Attachment(data, document.content_type, document.filename)
        for document, data in attachments(session, storage, job)
    ]
    message = build_message(
        organisation,
        rendered,
        to=to,
        cc=cc,
        reply_to=reply_to,
        language=locale,
        attachments=files,
    )
    # The link is sent, never kept: the stored copy has its token redacted.
    stored = None if link is None else redacted_copy(message.mime, link.token)
    return Composed(
        message=message,
        recipient=envelope[0],
        envelope_recipients=envelope,
        stored=stored,
    )


def _override(
    session: Session,
    job: ScheduledJob,
    purpose: Purpose,
    locale: Locale,
    *,
    found: FoundOverride | None,
) -> Override | None:
    """The organisation's own template for the purpose and locale when it has one (as
    ``found`` by the claim, or looked up now); None for the built-in."""
    if found is not None and found.answers(purpose, locale):
        return found.override
    return override_to_send(session, job.organisation_id, purpose, locale)


def _which(override: Override | None) -> str:
    return "built-in template" if override is None else f"organisation template v{override.version}"


class _Addressees(NamedTuple):
    to: list[str]
    cc: list[str]
    envelope: tuple[str, ...]  # the bare addresses of To, Cc and Bcc (Bcc only here)


def _addressees(job: ScheduledJob, applicant: Applicant, command: dict[str, Any]) -> _Addressees:
    """To, Cc and Bcc: the applicant, unless the command names other people."""
    applicant_address = formataddr((applicant.name, applicant.email))
    if job.purpose in FORWARDS:
        return _named(list(command["to"]), [], [])
    if job.purpose == "ad_hoc":
        return _named(
            list(command.get("to") or [applicant_address]),
            command.get("cc", []),
            command.get("bcc", []),
        )
    return _Addressees([applicant_address], [], (applicant.email,))


def _named(to: list[str], cc: list[str], bcc: list[str]) -> _Addressees:
    """Addressees as the command gave them ("Name <address>" or bare)."""
    return _Addressees(to, cc, tuple(parseaddr(a)[1] for a in (*to, *cc, *bcc)))


def _ad_hoc(command: dict[str, Any], locale: Locale) -> RenderedEmail:
    """A recruiter's own subject and body; both parts always go out, the HTML sanitised."""
    text = command.get("text") or _text_of(command["html"])
    if command.get("html"):
        body_html = sanitised(command["html"], lang=locale)
    else:
        body_html = "<p>" + escape(text).replace("\n", "<br>") + "</p>"
    return RenderedEmail(subject=command["subject"], text=text, html=body_html)


def _text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", re.sub(r"<br\s*/?>|</p>", "\n", html))).strip()


def _purpose_values(
    session: Session,
    job: ScheduledJob,
    locale: Locale,
    application: Application,
    command: dict[str, Any],
) -> dict[str, object]:
    payload: dict[str, Any] = job.payload
    purpose = command.get("template") or job.purpose
    if purpose in ("letter_received", "letter_rejected"):
        return {
            "letter_date": format_date(datetime.now(UTC), locale),
            "reason": reason_label(session, application.rejection_reason_id, locale),
        }
    if purpose in FORWARDS:
        applicant = session.get(Applicant, application.applicant_id)
        assert applicant is not None
        return {
            "recipient_name": command.get("recipient_name") or "",
            "applicant_email": applicant.email,
            "applicant_phone": applicant.phone or "",
            "reference_code": payload["reference_code"],
            "message": command.get("message") or "",
            "cv_attached": application.cv_document_id is not None
            and str(application.cv_document_id) in payload.get("document_ids", []),
        }
    if job.purpose == "contract":
        return {"message": command.get("message") or ""}
    if job.purpose == "rejection":
        return {"reason": reason_label(session, UUID(payload["reason_id"]), locale)}
    if job.purpose == "interview_invitation":
        interview = owned(session, Interview, UUID(payload["interview_id"]), job.organisation_id)
        return {
            "interview_type": interview.interview_type,
            "interview_start": format_datetime(interview.starts_at, locale),
            "interview_duration": format_duration(interview.duration_minutes, locale),
            "interview_location": interview.location or "",
            "interview_link": interview.video_link or "",
            "interviewers": format_names(interview.interviewers, locale),
            "response_link": _response_link(interview.id),
        }
    if job.purpose == "offer":
        offer = owned(session, Offer, UUID(payload["offer_id"]), job.organisation_id)
        return {
            "offer_salary": format_salary(
                offer.salary_amount, offer.salary_currency, cast(Any, offer.salary_period), locale
            ),
            "offer_start_date": format_date(offer.start_date, locale),
            "offer_expires": format_datetime(offer.expires_at, locale) if offer.expires_at else "",
            "message": offer.message or "",
        }
    return {}


def _response_link(interview_id: UUID) -> str:
    """The signed link where the applicant confirms or declines (see command_api)."""
    settings = get_settings()
    signature = sign(settings.link_key, "interview-response", interview_id)
    return f"{settings.public_base_url}/interviews/{interview_id}/respond?sig={signature}"
