"""What a scheduled job's application gives every template: who, for which vacancy, at
which organisation, in which language. Shared by the emails and the documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast
from uuid import UUID

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import Session

from shared.db.driver_statements import run
from shared.db.loaded_rows import attach, columns
from shared.db.models import (
    Applicant,
    Application,
    CommandRecord,
    Organisation,
    RejectionReason,
    ScheduledJob,
    Vacancy,
)
from shared.emails.locales import Locale
from shared.errors import PermanentError

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class JobSubject:
    """The rows a job's template is about, and the locale to write in."""

    application: Application
    applicant: Applicant
    vacancy: Vacancy
    organisation: Organisation
    locale: Locale

    def values(self, recruiter: str | None) -> dict[str, object]:
        """One value for each of ``shared.emails.variables.APPLICATION_VARIABLES``."""
        return {
            "applicant_name": self.applicant.name,
            "applicant_first_name": self.applicant.name.split()[0],
            "vacancy_title": self.vacancy.title,
            "organisation_name": self.organisation.name,
            "recruiter_name": recruiter or self.organisation.name,
        }


def job_subject(session: Session, job: ScheduledJob) -> JobSubject:
    """The application, applicant, vacancy and organisation of ``job``, all of its
    organisation (one query); a job that names anything else fails for good."""
    if job.application_id is None:
        raise PermanentError(f"{job.kind} job {job.id} names no application")
    params = {"application": job.application_id, "organisation": job.organisation_id}
    rows = run(session.connection(), _SUBJECT, params)
    subject = attach_subject(session, rows[0]) if rows else None
    if subject is None:
        raise PermanentError(
            f"application {job.application_id}, its applicant or its vacancy"
            " not found for the job's organisation"
        )
    return subject


def attach_subject(session: Session, row: Any) -> JobSubject | None:
    """The subject in ``row`` (read with ``SUBJECT_COLUMNS``) as persistent ORM objects;
    None when the row holds none (an outer join found no application)."""
    application = attach(session, Application, row, "application__")
    if application is None:
        return None
    applicant = attach(session, Applicant, row, "applicant__")
    vacancy = attach(session, Vacancy, row, "vacancy__")
    organisation = attach(session, Organisation, row, "organisation__")
    assert applicant and vacancy and organisation  # inner joins
    locale = cast(Locale, applicant.locale or organisation.default_locale)
    return JobSubject(application, applicant, vacancy, organisation, locale)


_applications: Table = Application.__table__  # type: ignore[assignment]
# A job's subject, for statements that read it with something else (the mail worker's
# claim reads it with the job it locks): every column, labelled for ``attach_subject``,
# and the tables joined within one organisation.
SUBJECT_COLUMNS: Final = (
    *columns(Application, "application__"),
    *columns(Applicant, "applicant__"),
    *columns(Vacancy, "vacancy__"),
    *columns(Organisation, "organisation__"),
)
SUBJECT_TABLES: Final = (
    _applications.join(
        Applicant,
        (Applicant.id == Application.applicant_id)
        & (Applicant.organisation_id == Application.organisation_id),
    )
    .join(
        Vacancy,
        (Vacancy.id == Application.vacancy_id)
        & (Vacancy.organisation_id == Application.organisation_id),
    )
    .join(Organisation, Organisation.id == Application.organisation_id)
)
# The locale a job's email and documents are written in, as ``attach_subject`` takes it.
SUBJECT_LOCALE: Final = func.coalesce(Applicant.locale, Organisation.default_locale)
_SUBJECT: Final = (
    select(*SUBJECT_COLUMNS)
    .select_from(SUBJECT_TABLES)
    .where(
        Application.id == bindparam("application"),
        Application.organisation_id == bindparam("organisation"),
    )
)


def recruiter(session: Session, job: ScheduledJob) -> str | None:
    """The actor of the command that scheduled ``job``, when it named one."""
    if job.command_id is None:
        return None
    return session.scalar(
        select(CommandRecord.payload["actor"].as_string()).where(CommandRecord.id == job.command_id)
    )


def command_fields(session: Session, job: ScheduledJob) -> dict[str, object]:
    """The fields of the command that asked for this job (send_email, forward_cv, ...)."""
    if "command_id" not in job.payload:
        return {}
    payload = session.scalar(
        select(CommandRecord.payload).where(
            CommandRecord.id == UUID(job.payload["command_id"]),
            CommandRecord.organisation_id == job.organisation_id,
        )
    )
    return dict(payload or {})


def reason_label(session: Session, reason_id: UUID | None, locale: Locale) -> str:
    reason = session.get(RejectionReason, reason_id) if reason_id else None
    if reason is None:
        return ""
    return reason.label_nl if locale == "nl" else reason.label_en


def owned(session: Session, model: type[M], row_id: UUID, organisation_id: UUID) -> M:
    """The row of ``model`` with ``row_id``, when it belongs to ``organisation_id``."""
    row = session.get(model, row_id)
    if row is None or getattr(row, "organisation_id", None) != organisation_id:
        raise PermanentError(f"{model.__name__} {row_id} not found for the job's organisation")
    return row
