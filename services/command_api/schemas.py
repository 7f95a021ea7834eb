"""What the HTTP API answers with."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from services.command_api.acceptance import Source
from services.command_api.problems import FieldError
from services.command_api.review_results import CandidateRatings
from shared.commands.fields import Money, Name, RejectionType
from shared.errors import EnvelopeRefusalCode, RefusalCode
from shared.statuses import ApplicationStatus, CommandStatus


class CommandAccepted(BaseModel):
    command_id: UUID
    type: str
    status: CommandStatus
    application_id: UUID | None
    location: str


class CommandView(BaseModel):
    command_id: UUID
    type: str
    status: CommandStatus
    code: RefusalCode | None
    message: str | None
    application_id: UUID | None
    result: dict[str, Any] | None = Field(
        default=None, description='What it produced, e.g. {"new_application_id": ...}.'
    )
    idempotency_key: str
    source: Source
    created_at: datetime
    completed_at: datetime | None


class CommandRefusalView(BaseModel):
    """An envelope published on the AMQP ingress under this key and refused: it never
    became a command (no `command_id`)."""

    status: Literal["refused"]
    refusal_id: UUID
    idempotency_key: str
    code: EnvelopeRefusalCode
    errors: list[FieldError] = Field(description="Each bad field, with the rule it broke.")
    source: Literal["amqp"]
    message_id: str | None = Field(description="The AMQP `message_id` it was published with.")
    refused_at: datetime


def _entry_kind(entry: Any) -> str:
    status = entry.get("status") if isinstance(entry, dict) else getattr(entry, "status", None)
    return "refused" if status == "refused" else "command"


CommandEntry = Annotated[
    Annotated[CommandView, Tag("command")] | Annotated[CommandRefusalView, Tag("refused")],
    Discriminator(_entry_kind),
]
"""What a key names: a command, or an envelope refused before it became one."""


class HistoryEntry(BaseModel):
    event_type: str
    actor: str | None
    from_status: ApplicationStatus | None
    to_status: ApplicationStatus | None
    reason: str | None
    note: str | None
    command_id: UUID | None
    occurred_at: datetime


class Rejection(BaseModel):
    type: RejectionType
    reason_id: UUID | None
    note: str | None


class ApplicantView(BaseModel):
    id: UUID
    name: str
    email: str
    phone: str | None
    locale: str | None
    in_talent_pool: bool
    is_candidate: bool = Field(description="False once hired: an employee, no longer a candidate.")


class ScreeningAnswerView(BaseModel):
    question: str
    answer: str


class OfferView(BaseModel):
    id: UUID
    version: int
    salary: Money
    start_date: date
    expires_at: datetime | None
    message: str | None
    status: Literal["open", "superseded", "accepted", "declined"]
    response_reason: str | None
    responded_at: datetime | None
    created_at: datetime


class InterviewView(BaseModel):
    id: UUID
    interview_type: str
    starts_at: datetime
    duration_minutes: int
    location: str | None
    video_link: str | None
    interviewers: list[str]
    status: Literal["scheduled", "cancelled"]
    response: Literal["confirmed", "declined"] | None = Field(
        description="The applicant's answer through the invitation's link; null until then."
    )
    responded_at: datetime | None


class ApplicationView(BaseModel):
    id: UUID
    vacancy_id: UUID
    applicant_id: UUID
    applicant: ApplicantView
    status: ApplicationStatus
    status_before: ApplicationStatus | None
    version: int
    application_text: str | None
    screening_answers: list[ScreeningAnswerView]
    cv_document_id: UUID | None = Field(
        description="The CV sent with this application (`GET /v1/documents/{id}`), if any."
    )
    deleted: bool
    deleted_at: datetime | None
    rejection: Rejection | None = Field(description="Why it was rejected; null unless rejected.")
    transferred_from_id: UUID | None = Field(
        description="The application this one was transferred from, if any."
    )
    created_at: datetime
    updated_at: datetime
    history: list[HistoryEntry]
    interviews: list[InterviewView] = Field(description="Oldest first, cancelled ones included.")
    offers: list[OfferView] = Field(description="Every version, the oldest first.")
    panel_ratings: CandidateRatings = Field(
        description="What panel reviewers said: count, mean, median, min and max of the"
        " stars, and each rating with its comment and reviewer."
    )


class ApplicationSummary(BaseModel):
    id: UUID
    vacancy_id: UUID
    applicant_id: UUID
    applicant_name: str
    status: ApplicationStatus
    version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class ApplicationPage(BaseModel):
    items: list[ApplicationSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class EmployeeView(BaseModel):
    id: UUID
    applicant_id: UUID
    application_id: UUID
    position_id: UUID
    department_id: UUID
    start_date: date
    end_date: date | None
    created_at: datetime


class EmployeePage(BaseModel):
    items: list[EmployeeView]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class VacancyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Name
    department_id: UUID | None = Field(
        default=None, description="A department of the caller's organisation."
    )
    position_id: UUID | None = Field(
        default=None,
        description="A position of the caller's organisation, in `department_id` when both are"
        " given; alone, the vacancy takes the position's department.",
    )


class VacancyView(BaseModel):
    id: UUID
    title: str
    department_id: UUID | None
    position_id: UUID | None
    status: Literal["open", "closed"]
    created_at: datetime
    closed_at: datetime | None


class VacancyList(BaseModel):
    items: list[VacancyView]
