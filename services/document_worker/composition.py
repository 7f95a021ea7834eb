"""Composing a document job's HTML: the values of its purpose, its template rendered in
the sandbox, on our page."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from babel import numbers as babel_numbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.document_worker.fetcher import Asset
from services.document_worker.layout import page, stylesheet
from shared.commands import SendEmploymentContract
from shared.db.models import OrganisationAsset, ScheduledJob
from shared.documents.overrides import find_document_template
from shared.documents.purposes import PURPOSES, DocumentPurpose, builtin_template, check_template
from shared.emails.formatting import format_date, format_salary
from shared.emails.locales import Locale, babel_locale
from shared.errors import PermanentError
from shared.templates.application_values import (
    JobSubject,
    command_fields,
    job_subject,
    reason_label,
    recruiter,
)
from shared.templates.sandbox import TemplateProblem, render

# How an application's stage is named in an anonymized profile.
_STAGES: Final[dict[Locale, dict[str, str]]] = {
    "nl": {
        "received": "Ontvangen",
        "interview": "Gesprek",
        "offered": "Aanbod gedaan",
        "saved": "Bewaard",
        "rejected": "Afgewezen",
        "withdrawn": "Teruggetrokken",
        "hired": "Aangenomen",
        "transferred": "Overgeplaatst",
    },
    "en": {
        "received": "Received",
        "interview": "Interview",
        "offered": "Offer made",
        "saved": "Saved",
        "rejected": "Rejected",
        "withdrawn": "Withdrawn",
        "hired": "Hired",
        "transferred": "Transferred",
    },
}


@dataclass(frozen=True, slots=True)
class ComposedDocument:
    purpose: DocumentPurpose
    html: str
    stylesheet: str  # ours, shared by every document in the locale
    title: str
    locale: Locale
    filename_stem: str
    template_version: str
    assets: dict[str, Asset] = field(default_factory=dict)


def compose(session: Session, job: ScheduledJob) -> ComposedDocument:
    purpose = PURPOSES.get(job.purpose)
    if purpose is None:
        raise PermanentError(f"document purpose {job.purpose!r} is unknown")
    subject = job_subject(session, job)
    locale = subject.locale
    values = subject.values(recruiter(session, job)) | _purpose_values(session, job, subject)
    # Only what the purpose allows reaches the template: an anonymized profile never
    # even receives the applicant's name.
    values = {key: value for key, value in values.items() if key in purpose.variables}
    own = find_document_template(session, job.organisation_id, purpose.name, locale)
    template = (
        builtin_template(purpose.name, locale)
        if own is None
        else check_template(purpose.name, own.html)
    )
    which = "builtin" if own is None else f"organisation v{own.version}"
    try:
        body = render(template, values)
    except TemplateProblem as problem:
        # A retry cannot fix a template: the job fails for good, saying which and why.
        raise PermanentError(
            f"template_error: {purpose.name}/{locale} {which}: {problem}"
        ) from None
    logo = session.scalar(
        select(OrganisationAsset).where(
            OrganisationAsset.organisation_id == job.organisation_id,
            OrganisationAsset.name == "logo",
        )
    )
    title = purpose.title(locale)
    if purpose.name == "profile":
        title = f"{title} {job.payload['reference_code']}"
    return ComposedDocument(
        purpose=purpose,
        html=page(
            body,
            title=title,
            locale=locale,
            organisation=subject.organisation.name,
            with_logo=logo is not None,
        ),
        stylesheet=stylesheet(locale),
        title=title,
        locale=locale,
        filename_stem=_slug(title),
        template_version=which,
        assets={} if logo is None else {"logo": Asset(logo.content_type, logo.data)},
    )


def _purpose_values(session: Session, job: ScheduledJob, subject: JobSubject) -> dict[str, Any]:
    locale = subject.locale
    today = format_date(datetime.now(UTC), locale)
    if job.purpose == "contract":
        return _contract_values(session, job, locale) | {"contract_date": today}
    if job.purpose in ("letter_received", "letter_rejected"):
        reason = reason_label(session, subject.application.rejection_reason_id, locale)
        return {"letter_date": today, "reason": reason}
    if job.purpose == "profile":
        return {
            "reference_code": job.payload["reference_code"],
            "status": _STAGES[locale][subject.application.status],
            "applied_on": format_date(subject.application.created_at, locale),
            "message": command_fields(session, job).get("message") or "",
        }
    return {}


def _contract_values(session: Session, job: ScheduledJob, locale: Locale) -> dict[str, Any]:
    try:
        terms = SendEmploymentContract.model_validate(command_fields(session, job))
    except ValueError as exc:
        raise PermanentError(f"the contract's command does not validate: {exc}") from None
    salary = terms.salary
    return {
        "job_title": terms.job_title,
        "salary": format_salary(salary.amount, salary.currency, salary.period, locale),
        "hours_per_week": babel_numbers.format_decimal(
            terms.hours_per_week.normalize(), locale=babel_locale(locale)
        ),
        "start_date": format_date(terms.start_date, locale),
        "end_date": format_date(terms.end_date, locale) if terms.end_date else "",
        "probation_months": terms.probation_months,
        "place_of_work": terms.place_of_work,
        "holiday_days": terms.holiday_days or 0,
        "notice_period_months": terms.notice_period_months or 0,
        "extra_terms": terms.extra_terms or "",
    }


def _slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-") or "document"
