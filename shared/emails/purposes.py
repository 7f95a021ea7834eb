"""What each email is for, the variables its templates may use, and sample values.

A template (built-in or an organisation's override) may use only its purpose's variables;
:func:`shared.emails.rendering.render_email` needs every one of them in the context.
Values are plain data, already formatted for the email's locale (see ``formatting``): an
optional value the command did not give is an empty string, and templates test it with
``{% if ... %}``.

The sample contexts feed the preview and the check of an organisation's template.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final

from shared.emails.formatting import (
    format_date,
    format_datetime,
    format_duration,
    format_names,
    format_salary,
)
from shared.emails.locales import Locale
from shared.emails.variables import (
    IDENTIFYING_VARIABLES,
    PURPOSES,
    VARIABLES,
    Purpose,
    allowed_variables,
)

__all__ = [
    "IDENTIFYING_VARIABLES",
    "PURPOSES",
    "VARIABLES",
    "MissingVariables",
    "Purpose",
    "allowed_variables",
    "require_context",
    "sample_context",
]


class MissingVariables(ValueError):  # noqa: N818 - names what the caller forgot
    """The context lacks variables of the purpose: a bug in the caller, not in a template."""

    def __init__(self, purpose: Purpose, names: frozenset[str]) -> None:
        super().__init__(f"the context for {purpose} lacks: {', '.join(sorted(names))}")
        self.purpose = purpose
        self.names = names


def require_context(purpose: Purpose, context: Mapping[str, object]) -> dict[str, object]:
    """Exactly the purpose's variables from ``context``: a missing one is refused with
    :class:`MissingVariables`, any other key is left out, so no template can ever see it."""
    allowed = allowed_variables(purpose)
    missing = allowed - context.keys()
    if missing:
        raise MissingVariables(purpose, frozenset(missing))
    return {name: context[name] for name in sorted(allowed)}


# Free text differs per language; everything else is formatted from the same values.
_SAMPLE_TEXT: Final[dict[Locale, dict[str, str]]] = {
    "nl": {
        "vacancy_title": "Verpleegkundige acute zorg",
        "organisation_name": "Zorggroep Noord",
        "reason": "Er is gekozen voor een andere kandidaat",
        "message": "Ik kijk uit naar een reactie vóór vrijdag.",
        "interview_location": "Stationsplein 12, Utrecht (receptie, 2e verdieping)",
        "recipient_name": "Mark Jansen",
        "reviewer_name": "Mark Jansen",
    },
    "en": {
        "vacancy_title": "Emergency care nurse",
        "organisation_name": "Zorggroep Noord",
        "reason": "Another candidate was chosen",
        "message": "I look forward to hearing from you by Friday.",
        "interview_location": "Stationsplein 12, Utrecht (reception, 2nd floor)",
        "recipient_name": "Mark Jansen",
        "reviewer_name": "Mark Jansen",
    },
}

_SAMPLE_MOMENT: Final = datetime(2026, 3, 9, 13, 30, tzinfo=UTC)


def sample_context(purpose: Purpose, locale: Locale) -> dict[str, object]:
    """Made-up but realistic values for every variable of ``purpose``, in ``locale``."""
    text = _SAMPLE_TEXT[locale]
    values: dict[str, object] = {
        "applicant_name": "Sanne de Vries",
        "applicant_first_name": "Sanne",
        "applicant_email": "sanne.devries@example.org",
        "applicant_phone": "+31 6 12345678",
        "recruiter_name": "Eva Bakker",
        "interview_type": "in_person",
        "interview_start": format_datetime(_SAMPLE_MOMENT, locale),
        "interview_duration": format_duration(45, locale),
        "interview_link": "",
        "interviewers": format_names(["Eva Bakker", "Joost Visser"], locale),
        "response_link": "https://werving.example.org/i/Xb7kq2LmPz",
        "offer_salary": format_salary(Decimal("3500.00"), "EUR", "month", locale),
        "offer_start_date": format_date(date(2026, 5, 1), locale),
        "offer_expires": format_datetime(datetime(2026, 3, 23, 16, 0, tzinfo=UTC), locale),
        "username": "sanne.devries@example.org",
        "set_password_link": "https://werving.example.org/p/9fQ2rT7vYw",
        "set_password_expires": format_datetime(datetime(2026, 3, 12, 13, 30, tzinfo=UTC), locale),
        "reference_code": "KND-7Q4M",
        "cv_attached": True,
        "review_link": "https://werving.example.org/r/Hc3nW8sJd",
        "due_date": format_date(date(2026, 3, 16), locale),
        "letter_date": format_date(date(2026, 3, 2), locale),
        "consent_expires": format_date(date(2026, 4, 8), locale),
        "extended_until": format_date(date(2027, 4, 8), locale),
        "extend_link": "https://werving.example.org/talent-pool/Qm4vZ8tLs2",
        **text,
    }
    return {name: values[name] for name in sorted(allowed_variables(purpose))}
