"""The documents document_worker renders: what each one is called, which values its
template may use, and which email (if any) sends it once it is stored."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Final

from shared.emails.locales import Locale
from shared.templates.sandbox import CheckedTemplate, check

_TEMPLATES = files("services.document_worker").joinpath("templates")
_APPLICATION: Final = frozenset(
    {"applicant_name", "applicant_first_name", "vacancy_title", "organisation_name"}
)


@dataclass(frozen=True, slots=True)
class DocumentPurpose:
    name: str
    kind: str  # the documents table's kind: contract | letter | profile
    titles: dict[Locale, str]
    variables: frozenset[str]
    # The mail purpose that sends the stored PDF as an attachment; None: kept for download.
    mail: str | None
    # A contract is a legal document: one that wanted something the fetcher refused
    # (an image, a font) is not sent half-rendered.
    strict_fetches: bool = False

    def title(self, locale: Locale) -> str:
        return self.titles[locale]


PURPOSES: Final[dict[str, DocumentPurpose]] = {
    p.name: p
    for p in (
        DocumentPurpose(
            name="contract",
            kind="contract",
            titles={"nl": "Arbeidsovereenkomst", "en": "Employment contract"},
            variables=_APPLICATION
            | {
                "recruiter_name",
                "job_title",
                "salary",
                "hours_per_week",
                "start_date",
                "end_date",
                "probation_months",
                "place_of_work",
                "holiday_days",
                "notice_period_months",
                "extra_terms",
                "contract_date",
            },
            mail="contract",
            strict_fetches=True,
        ),
        DocumentPurpose(
            name="letter_received",
            kind="letter",
            titles={"nl": "Ontvangstbevestiging", "en": "Acknowledgement of application"},
            variables=_APPLICATION | {"recruiter_name", "letter_date"},
            mail=None,
        ),
        DocumentPurpose(
            name="letter_rejected",
            kind="letter",
            titles={"nl": "Afwijzing", "en": "Rejection"},
            variables=_APPLICATION | {"recruiter_name", "letter_date", "reason"},
            mail=None,
        ),
        # forward_cv with anonymize: nothing that identifies the applicant, by construction.
        DocumentPurpose(
            name="profile",
            kind="profile",
            titles={"nl": "Kandidaatprofiel", "en": "Candidate profile"},
            variables=frozenset(
                {
                    "vacancy_title",
                    "organisation_name",
                    "recruiter_name",
                    "reference_code",
                    "status",
                    "applied_on",
                    "message",
                }
            ),
            mail="cv_forward_anonymized",
        ),
    )
}


@cache
def builtin_template(purpose: str, locale: Locale) -> CheckedTemplate:
    """The built-in body of ``purpose`` in ``locale``, checked like an organisation's."""
    source = _TEMPLATES.joinpath(purpose, f"{locale}.html.j2").read_text(encoding="utf-8")
    return check(source, html=True, allowed_variables=PURPOSES[purpose].variables)
