"""Commands around a panel review: send candidates to reviewers, and manage their links."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from shared.commands.base import Command, Contract
from shared.commands.fields import Email, Name, Note


class Reviewer(Contract):
    email: Email
    name: Name
    kind: Literal["internal", "external"] = Field(
        default="internal", description="A colleague, or someone from outside the organisation."
    )


class RequestPanelReview(Command):
    """Send active applications of one vacancy to reviewers, who rate each candidate 1 to 7
    stars on a page of their own. Each reviewer gets one private link by email."""

    type: Literal["request_panel_review"] = "request_panel_review"
    application_ids: list[UUID] = Field(min_length=1, max_length=50)
    reviewers: list[Reviewer] = Field(min_length=1, max_length=20)
    message: Note | None = Field(default=None, description="Shown on the page and in the email.")
    due: AwareDatetime | None = Field(
        default=None, description="Ratings can be changed until then; links expire then too."
    )

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.application_ids)) != len(self.application_ids):
            raise ValueError("application_ids must not repeat an application")
        emails = [r.email.lower() for r in self.reviewers]
        if len(set(emails)) != len(emails):
            raise ValueError("reviewers must not repeat an email address")
        if self.due is not None and self.due <= datetime.now(UTC):
            raise ValueError("due must be in the future")
        return self


class RevokePanelReviewer(Command):
    """The reviewer's link stops working at once; their ratings stay."""

    type: Literal["revoke_panel_reviewer"] = "revoke_panel_reviewer"
    review_id: UUID
    reviewer_id: UUID


class ResendPanelReviewLink(Command):
    """Email the reviewer a new link; the old one stops working."""

    type: Literal["resend_panel_review_link"] = "resend_panel_review_link"
    review_id: UUID
    reviewer_id: UUID


class ClosePanelReview(Command):
    """No more ratings: every link shows the review as closed."""

    type: Literal["close_panel_review"] = "close_panel_review"
    review_id: UUID
