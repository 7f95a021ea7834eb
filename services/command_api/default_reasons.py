"""The rejection reasons every new organisation starts with (it can add and deactivate its own)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.commands.fields import RejectionType


@dataclass(frozen=True, slots=True)
class DefaultReason:
    rejection_type: RejectionType
    label_en: str
    label_nl: str


DEFAULT_REJECTION_REASONS: tuple[DefaultReason, ...] = (
    DefaultReason(
        "by_company", "Does not meet the requirements", "Voldoet niet aan de functie-eisen"
    ),
    DefaultReason(
        "by_company", "Another candidate was chosen", "Er is gekozen voor een andere kandidaat"
    ),
    DefaultReason("by_company", "Position filled internally", "Functie intern ingevuld"),
    DefaultReason("by_company", "Vacancy withdrawn", "Vacature ingetrokken"),
    DefaultReason("by_candidate", "Accepted another job", "Heeft een andere baan aangenomen"),
    DefaultReason("by_candidate", "Salary expectations", "Salarisverwachting"),
    DefaultReason("by_candidate", "No longer interested", "Niet langer geïnteresseerd"),
    DefaultReason("unspecified", "Other", "Overig"),
)
