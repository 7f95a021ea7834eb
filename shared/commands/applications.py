"""Commands that act on an application's status, one model per recruiter action."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from shared.commands.base import ApplicationCommand, Command, Contract
from shared.commands.fields import (
    Email,
    LongText,
    Money,
    Name,
    Note,
    Phone,
    RejectionType,
    ShortText,
    Subject,
    TemplateName,
    Url,
    VariableName,
)
from shared.emails.variables import AD_HOC_TEMPLATES, ad_hoc_variables


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
    cv_document_id: UUID | None = Field(
        default=None, description="The applicant's CV, uploaded first with `POST /v1/documents`."
    )
    send_receipt: bool = Field(default=False, description="Email the 'received' letter.")

    @model_validator(mode="after")
    def _one_applicant(self) -> Self:
        if (self.applicant is None) == (self.applicant_id is None):
            raise ValueError("give exactly one of applicant or applicant_id")
        return self


class WithdrawApplication(ApplicationCommand):
    """The applicant withdrew: the application leaves the process for this vacancy.

    Cancels the application's scheduled emails and interviews."""

    type: Literal["withdraw_application"] = "withdraw_application"
    reason: ShortText | None = None
    note: Note | None = None
    notify: bool = Field(default=False, description="Email the applicant a confirmation.")


class DeleteApplication(ApplicationCommand):
    """Hide the application from lists; it keeps its status and can be restored."""

    type: Literal["delete_application"] = "delete_application"
    note: Note | None = None


class RestoreApplication(ApplicationCommand):
    """Undo a delete: the application is back in lists with the status it had."""

    type: Literal["restore_application"] = "restore_application"


class PurgeApplication(ApplicationCommand):
    """Erase a deleted application's personal data everywhere (irreversible)."""

    type: Literal["purge_application"] = "purge_application"


class InviteToInterview(ApplicationCommand):
    """Plan an interview and email the invitation."""

    type: Literal["invite_to_interview"] = "invite_to_interview"
    interview_type: Literal["phone", "in_person", "video", "group"]
    start: AwareDatetime
    duration_minutes: int = Field(ge=5, le=8 * 60, strict=True)
    location: ShortText | None = None
    video_link: Url | None = None
    interviewers: list[Name] = Field(default_factory=list, max_length=20)
    template: TemplateName | None = Field(
        default=None,
        description="Only `interview_invitation` for now: the organisation's own version"
        " (`PUT /v1/email-templates/interview_invitation/{locale}`) when it has one, else the"
        " built-in. Any other name is refused with `unknown_template`.",
    )
    send_at: AwareDatetime | None = Field(
        default=None, description="When to email the invitation; now if unset."
    )

    @model_validator(mode="after")
    def _where(self) -> Self:
        if self.interview_type == "video" and self.video_link is None:
            raise ValueError("a video interview needs a video_link")
        if self.interview_type in ("in_person", "group") and self.location is None:
            raise ValueError(f"an interview of type {self.interview_type} needs a location")
        return self


class RejectionEmail(Contract):
    template: TemplateName | None = Field(
        default=None,
        description="Only `rejection` for now: the organisation's own version"
        " (`PUT /v1/email-templates/rejection/{locale}`) when it has one, else the"
        " built-in. Any other name is refused with `unknown_template`.",
    )
    send_at: AwareDatetime | None = Field(
        default=None, description="When to send; until then unreject or withdraw cancels it."
    )


class RejectApplication(ApplicationCommand):
    """Reject with a type and one of the organisation's rejection reasons."""

    type: Literal["reject_application"] = "reject_application"
    rejection_type: RejectionType
    reason_id: UUID = Field(description="One of the organisation's rejection reasons.")
    note: Note | None = None
    email: RejectionEmail | None = Field(default=None, description="No email when unset.")


class UnrejectApplication(ApplicationCommand):
    """Undo a rejection: back to the status before it; an unsent rejection email is cancelled."""

    type: Literal["unreject_application"] = "unreject_application"


class SaveApplication(ApplicationCommand):
    """Keep the applicant for later: status saved, and into the talent pool."""

    type: Literal["save_application"] = "save_application"
    note: Note | None = None


class SaveAndSendCredentials(ApplicationCommand):
    """Save the application, and email the applicant a link to set a portal password."""

    type: Literal["save_and_send_credentials"] = "save_and_send_credentials"
    template: TemplateName | None = Field(
        default=None,
        description="Only `credentials` for now: the organisation's own version"
        " (`PUT /v1/email-templates/credentials/{locale}`) when it has one, else the"
        " built-in. Any other name is refused with `unknown_template`.",
    )


class TransferApplication(ApplicationCommand):
    """Move or copy the applicant and the CV to another vacancy.

    The application text and screening answers stay with this vacancy."""

    type: Literal["transfer_application"] = "transfer_application"
    target_vacancy_id: UUID
    mode: Literal["move", "copy"]


class SendOffer(ApplicationCommand):
    """Make an offer (a new version replaces an open one) and email it."""

    type: Literal["send_offer"] = "send_offer"
    salary: Money
    start_date: date
    expires_at: AwareDatetime | None = None
    message: Note | None = None
    template: TemplateName | None = Field(
        default=None,
        description="Only `offer` for now: the organisation's own version"
        " (`PUT /v1/email-templates/offer/{locale}`) when it has one, else the"
        " built-in. Any other name is refused with `unknown_template`.",
    )


class RecordOfferResponse(ApplicationCommand):
    """The applicant accepted or declined the current offer; declining withdraws."""

    type: Literal["record_offer_response"] = "record_offer_response"
    response: Literal["accepted", "declined"]
    reason: ShortText | None = None


class HireApplicant(ApplicationCommand):
    """Hire into a position and department: an employee record; no longer a candidate."""

    type: Literal["hire_applicant"] = "hire_applicant"
    position_id: UUID
    department_id: UUID
    start_date: date
    end_date: date | None = None
    withdraw_other_applications: bool = Field(
        default=False, description="Also withdraw the applicant's other active applications."
    )

    @model_validator(mode="after")
    def _dates(self) -> Self:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class SendEmail(ApplicationCommand):
    """An ad-hoc email about this application, from the organisation's sender.

    Give a subject and a text and/or HTML body, or ``template`` (an email purpose, using
    the organisation's or the built-in template) with ``variables`` for the values the
    application does not provide (an offer's salary, a message)."""

    type: Literal["send_email"] = "send_email"
    to: list[Email] = Field(
        default_factory=list, max_length=20, description="The applicant when empty."
    )
    cc: list[Email] = Field(default_factory=list, max_length=20)
    bcc: list[Email] = Field(default_factory=list, max_length=20)
    subject: Subject | None = None
    text: LongText | None = None
    html: LongText | None = None
    template: TemplateName | None = Field(
        default=None, description=f"One of: {', '.join(sorted(AD_HOC_TEMPLATES))}."
    )
    variables: dict[VariableName, Note] = Field(
        default_factory=dict,
        max_length=20,
        description="With `template`: values for its variables that the application does not"
        " provide (see `GET /v1/email-templates/{purpose}/{locale}`), already formatted;"
        " an empty string for an optional one.",
    )
    attachments: list[UUID] = Field(
        default_factory=list,
        max_length=10,
        description="Stored documents of this application to attach (ids from"
        " `GET /v1/applications/{id}/documents`).",
    )
    reply_to: Email | None = Field(
        default=None,
        description="Where replies go, e.g. the recruiter; the sender is always the"
        " organisation's verified sender.",
    )
    send_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _content(self) -> Self:
        if self.template is None and (
            self.subject is None or (self.text is None and self.html is None)
        ):
            raise ValueError("give a subject and a text or html body, or a template")
        if self.template is not None and (self.subject or self.text or self.html):
            raise ValueError("give either a template or a subject and body, not both")
        if self.template is None:
            if self.variables:
                raise ValueError("variables go with a template")
            return self
        split = ad_hoc_variables(self.template)
        if split is None:
            raise ValueError(
                f"template {self.template!r} cannot be sent ad hoc;"
                f" use one of {', '.join(sorted(AD_HOC_TEMPLATES))}"
            )
        _provided, to_give = split
        unknown = sorted(set(self.variables) - to_give)
        missing = sorted(to_give - set(self.variables))
        if unknown:
            raise ValueError(
                f"variables {self.template} does not take from the command: {', '.join(unknown)}"
            )
        if missing:
            raise ValueError(f"variables missing for {self.template}: {', '.join(missing)}")
        return self


class ForwardCv(ApplicationCommand):
    """Email someone about this applicant; ``anonymize`` sends only non-identifying
    fields and a random reference code, never the original CV."""

    type: Literal["forward_cv"] = "forward_cv"
    to: list[Email] = Field(min_length=1, max_length=10)
    recipient_name: Name | None = None
    message: Note | None = None
    anonymize: bool = False
    include_cv: bool = True
    include_attachments: bool = False
    reply_to: Email | None = Field(
        default=None, description="Where replies go, e.g. the recruiter."
    )


class SendEmploymentContract(ApplicationCommand):
    """Render the employment contract as a PDF, store it and email it to the applicant.

    Every field the contract shows is here and validated before anything renders; the
    applicant, vacancy and organisation come from the application."""

    type: Literal["send_employment_contract"] = "send_employment_contract"
    job_title: Name
    salary: Money
    hours_per_week: Decimal = Field(gt=0, le=60, max_digits=4, decimal_places=1)
    start_date: date
    end_date: date | None = Field(default=None, description="None for a permanent contract.")
    probation_months: int = Field(default=0, ge=0, le=6)
    place_of_work: ShortText
    holiday_days: int | None = Field(default=None, ge=0, le=60, description="Per year.")
    notice_period_months: int | None = Field(default=None, ge=0, le=6)
    extra_terms: Note | None = None
    message: Note | None = Field(default=None, description="A note in the email with the PDF.")
    template: TemplateName | None = Field(
        default=None,
        description="Only `contract` for now. The organisation's own contract body"
        " (`PUT /v1/document-templates/contract/{locale}`) is used when it has one.",
    )

    @model_validator(mode="after")
    def _dates(self) -> Self:
        if self.end_date is not None and self.end_date <= self.start_date:
            raise ValueError("end_date must be after start_date")
        return self


class SendLetter(ApplicationCommand):
    """The 'received' or 'rejected' letter, by email or as a printable PDF."""

    type: Literal["send_letter"] = "send_letter"
    letter: Literal["received", "rejected"]
    channel: Literal["email", "print"] = "email"
