"""Commands that change an application's status."""

from __future__ import annotations

from typing import Literal, Self
from uuid import UUID

from pydantic import Field, model_validator

from shared.commands.base import ApplicationCommand, Command, Contract
from shared.commands.fields import Email, LongText, Name, Note, Phone, ShortText


class NewApplicant(Contract):
    name: Name
    email: Email
    phone: Phone | None = None
    locale: Literal["nl", "en"] | None = Field(
        default=None,
        description="Language of the applicant's emails; the organisation's default if unset.",
    )


class ScreeningAnswer(Contract):
    question: ShortText
    answer: LongText


class RegisterApplication(Command):
    """A new application for an open vacancy, by a new or an existing applicant."""

    type: Literal["register_application"] = "register_application"
    vacancy_id: UUID
    applicant: NewApplicant | None = Field(default=None, description="A new applicant.")
    applicant_id: UUID | None = Field(default=None, description="An existing applicant.")
    application_text: LongText | None = None
    screening_answers: list[ScreeningAnswer] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _one_applicant(self) -> Self:
        if (self.applicant is None) == (self.applicant_id is None):
            raise ValueError("give exactly one of applicant or applicant_id")
        return self


class WithdrawApplication(ApplicationCommand):
    """The applicant withdrew: the application leaves the process for this vacancy."""

    type: Literal["withdraw_application"] = "withdraw_application"
    reason: ShortText | None = None
    note: Note | None = None
