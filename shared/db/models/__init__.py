"""SQLAlchemy models; importing this package registers every table on ``Base.metadata``."""

from shared.db.models.commands import CommandRecord, CommandRefusal, IdempotencyRecord
from shared.db.models.documents import Document, DocumentTemplate, OrganisationAsset
from shared.db.models.mail import EmailTemplate, OutboundEmail
from shared.db.models.messaging import DeadLetter, DeliveryAttempt, InboxEntry, OutboxMessage
from shared.db.models.portal import CandidateAccount, SetPasswordToken
from shared.db.models.process import Employee, Interview, Offer, ScheduledJob
from shared.db.models.recruitment import Applicant, Application, ApplicationEvent, Vacancy
from shared.db.models.reference import Department, Position, RejectionReason
from shared.db.models.retention import RetentionPolicy, TalentPoolConsent
from shared.db.models.reviews import (
    PanelRating,
    PanelReview,
    PanelReviewCandidate,
    PanelReviewer,
)
from shared.db.models.tenancy import ApiKey, Organisation

__all__ = [
    "ApiKey",
    "Applicant",
    "Application",
    "ApplicationEvent",
    "CandidateAccount",
    "CommandRecord",
    "CommandRefusal",
    "DeadLetter",
    "DeliveryAttempt",
    "Department",
    "Document",
    "DocumentTemplate",
    "EmailTemplate",
    "Employee",
    "IdempotencyRecord",
    "InboxEntry",
    "Interview",
    "Offer",
    "Organisation",
    "OrganisationAsset",
    "OutboundEmail",
    "OutboxMessage",
    "PanelRating",
    "PanelReview",
    "PanelReviewCandidate",
    "PanelReviewer",
    "Position",
    "RejectionReason",
    "RetentionPolicy",
    "ScheduledJob",
    "SetPasswordToken",
    "TalentPoolConsent",
    "Vacancy",
]
