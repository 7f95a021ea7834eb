"""Events published on the topic exchange for subscribers, under the routing key
``<organisation id>.<name>`` (``shared.messaging.routing_keys``).

Events carry ids and statuses, never personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from shared.commands.base import Contract
from shared.errors import EnvelopeRefusalCode, RefusalCode
from shared.ids import new_id
from shared.statuses import ApplicationStatus, CommandStatus


class Event(Contract):
    name: ClassVar[str]

    event_id: UUID = Field(default_factory=new_id)
    occurred_at: datetime
    organisation_id: UUID


class ApplicationStatusChanged(Event):
    name: ClassVar[str] = "application.status_changed"
    event: Literal["application.status_changed"] = "application.status_changed"

    application_id: UUID
    vacancy_id: UUID
    command_id: UUID
    from_status: ApplicationStatus | None
    to_status: ApplicationStatus
    version: int


class ApplicationFlagChanged(Event):
    """Base of the events that change whether an application is listed or exists."""

    application_id: UUID
    vacancy_id: UUID
    command_id: UUID
    version: int


class ApplicationDeleted(ApplicationFlagChanged):
    name: ClassVar[str] = "application.deleted"
    event: Literal["application.deleted"] = "application.deleted"


class ApplicationRestored(ApplicationFlagChanged):
    name: ClassVar[str] = "application.restored"
    event: Literal["application.restored"] = "application.restored"


class ApplicationPurged(Event):
    """Personal data of the application is erased; only ids remain."""

    name: ClassVar[str] = "application.purged"
    event: Literal["application.purged"] = "application.purged"

    application_id: UUID
    command_id: UUID
    applicant_erased: bool
    reason: Literal["retention"] | None = Field(
        default=None,
        description="`retention` when the organisation's retention policy purged it;"
        " absent when a purge_application command of the organisation did.",
    )


class ApplicationTransferred(Event):
    name: ClassVar[str] = "application.transferred"
    event: Literal["application.transferred"] = "application.transferred"

    application_id: UUID
    new_application_id: UUID
    target_vacancy_id: UUID
    mode: Literal["move", "copy"]
    command_id: UUID


class InterviewScheduled(Event):
    name: ClassVar[str] = "interview.scheduled"
    event: Literal["interview.scheduled"] = "interview.scheduled"

    application_id: UUID
    interview_id: UUID
    command_id: UUID
    starts_at: datetime


class InterviewResponded(Event):
    """The applicant confirmed or declined through the link in the invitation."""

    name: ClassVar[str] = "interview.responded"
    event: Literal["interview.responded"] = "interview.responded"

    application_id: UUID
    interview_id: UUID
    response: Literal["confirmed", "declined"]


class EmailSettled(Event):
    """Base of the events that say how an email ended; no address, subject or reply in it."""

    email_id: UUID
    application_id: UUID | None
    purpose: str


class EmailSent(EmailSettled):
    """The SMTP server accepted the email."""

    name: ClassVar[str] = "email.sent"
    event: Literal["email.sent"] = "email.sent"


class EmailFailed(EmailSettled):
    """The email was refused for good (``failed``), or may or may not have gone out and is
    not sent again (``unknown``: credentials, offers, contracts, review links)."""

    name: ClassVar[str] = "email.failed"
    event: Literal["email.failed"] = "email.failed"

    state: Literal["failed", "unknown"]


class OfferSent(Event):
    name: ClassVar[str] = "offer.sent"
    event: Literal["offer.sent"] = "offer.sent"

    application_id: UUID
    offer_id: UUID
    offer_version: int
    command_id: UUID


class OfferResponded(Event):
    name: ClassVar[str] = "offer.responded"
    event: Literal["offer.responded"] = "offer.responded"

    application_id: UUID
    offer_id: UUID
    response: Literal["accepted", "declined"]
    command_id: UUID


class ApplicantHired(Event):
    name: ClassVar[str] = "applicant.hired"
    event: Literal["applicant.hired"] = "applicant.hired"

    applicant_id: UUID
    application_id: UUID
    employee_id: UUID
    position_id: UUID
    department_id: UUID
    command_id: UUID


class DocumentCreated(Event):
    """A PDF was rendered and stored (``GET /v1/documents/{document_id}``)."""

    name: ClassVar[str] = "document.created"
    event: Literal["document.created"] = "document.created"

    document_id: UUID
    application_id: UUID | None
    command_id: UUID | None
    kind: str
    purpose: str
    version: int
    sha256: str
    size_bytes: int


class ReviewRatingSubmitted(Event):
    """A panel reviewer saved stars (1 to 7) for a candidate; a later one replaces it."""

    name: ClassVar[str] = "review.rating_submitted"
    event: Literal["review.rating_submitted"] = "review.rating_submitted"

    review_id: UUID
    reviewer_id: UUID
    application_id: UUID
    stars: int


class CommandCompleted(Event):
    name: ClassVar[str] = "command.completed"
    event: Literal["command.completed"] = "command.completed"

    command_id: UUID
    idempotency_key: str
    command_type: str
    status: CommandStatus
    code: RefusalCode | None = None
    message: str | None = None
    application_id: UUID | None = None


class FieldError(Contract):
    """One reason an envelope was refused: the field (dotted path in the envelope, ``body``
    for the whole message), the validator's code and its message (which names the rule, not
    the value)."""

    field: str
    code: str
    message: str


class CommandRefused(Event):
    """The AMQP ingress refused an envelope of this organisation: nothing was accepted.

    Also found by its key with ``GET /v1/commands?idempotency_key=...``. No envelope body.
    """

    name: ClassVar[str] = "command.refused"
    event: Literal["command.refused"] = "command.refused"

    refusal_id: UUID
    idempotency_key: str | None = Field(
        description="The envelope's key, when one could be read from it; a key refused inside"
        " a bulk is the derived `<key>/<application id>`."
    )
    message_id: str | None = Field(description="The AMQP `message_id` it was published with.")
    code: EnvelopeRefusalCode
    errors: list[FieldError]


EVENT_TYPES: tuple[type[Event], ...] = (
    ApplicationStatusChanged,
    ApplicationDeleted,
    ApplicationRestored,
    ApplicationPurged,
    ApplicationTransferred,
    InterviewScheduled,
    InterviewResponded,
    EmailSent,
    EmailFailed,
    OfferSent,
    OfferResponded,
    ApplicantHired,
    DocumentCreated,
    ReviewRatingSubmitted,
    CommandCompleted,
    CommandRefused,
)
