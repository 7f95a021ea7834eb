"""The documents document_worker renders: what each one is called, which values its
template may use, sample values to check and preview a template with, and which email
(if any) sends it once it is stored."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Final

from shared.emails.locales import Locale
from shared.emails.variables import APPLICATION_VARIABLES
from shared.templates.sandbox import CheckedTemplate, check

_TEMPLATES = files("shared.documents").joinpath("templates")


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
            variables=APPLICATION_VARIABLES
            | {
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
            variables=APPLICATION_VARIABLES | {"letter_date"},
            mail=None,
        ),
        DocumentPurpose(
            name="letter_rejected",
            kind="letter",
            titles={"nl": "Afwijzing", "en": "Rejection"},
            variables=APPLICATION_VARIABLES | {"letter_date", "reason"},
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


def builtin_source(purpose: str, locale: Locale) -> str:
    return _TEMPLATES.joinpath(purpose, f"{locale}.html.j2").read_text(encoding="utf-8")


@cache
def builtin_template(purpose: str, locale: Locale) -> CheckedTemplate:
    """The built-in body of ``purpose`` in ``locale``, checked like an organisation's."""
    return check_template(purpose, builtin_source(purpose, locale))


def check_template(purpose: str, source: str) -> CheckedTemplate:
    """``source`` as a body for ``purpose``: the sandbox's rules and only its variables
    (raises :class:`shared.templates.sandbox.TemplateProblem`)."""
    return check(source, html=True, allowed_variables=PURPOSES[purpose].variables)


_SAMPLE_TEXT: Final[dict[Locale, dict[str, object]]] = {
    "nl": {
        "vacancy_title": "Verpleegkundige acute zorg",
        "job_title": "Verpleegkundige acute zorg",
        "salary": "€ 3.500,00 per maand",
        "hours_per_week": "32,5",
        "start_date": "1 mei 2026",
        "end_date": "30 april 2027",
        "place_of_work": "Utrecht",
        "extra_terms": "Reiskosten worden vergoed volgens de cao.",
        "contract_date": "9 maart 2026",
        "letter_date": "9 maart 2026",
        "reason": "Er is gekozen voor een andere kandidaat",
        "status": "Gesprek",
        "applied_on": "2 maart 2026",
        "message": "Graag uw oordeel vóór vrijdag.",
    },
    "en": {
        "vacancy_title": "Emergency care nurse",
        "job_title": "Emergency care nurse",
        "salary": "€3,500.00 per month",
        "hours_per_week": "32.5",
        "start_date": "1 May 2026",
        "end_date": "30 April 2027",
        "place_of_work": "Utrecht",
        "extra_terms": "Travel costs are reimbursed under the collective agreement.",
        "contract_date": "9 March 2026",
        "letter_date": "9 March 2026",
        "reason": "Another candidate was chosen",
        "status": "Interview",
        "applied_on": "2 March 2026",
        "message": "Please let me know by Friday.",
    },
}


def sample_values(purpose: str, locale: Locale) -> dict[str, object]:
    """Made-up but realistic values for every variable of ``purpose``, in ``locale``."""
    values: dict[str, object] = {
        "applicant_name": "Sanne de Vries",
        "applicant_first_name": "Sanne",
        "organisation_name": "Zorggroep Noord",
        "recruiter_name": "Eva Bakker",
        "probation_months": 1,
        "holiday_days": 25,
        "notice_period_months": 1,
        "reference_code": "7Q4M2K9D",
        **_SAMPLE_TEXT[locale],
    }
    return {name: values[name] for name in sorted(PURPOSES[purpose].variables)}
