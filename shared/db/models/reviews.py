"""Panel reviews: recruiters send candidates to reviewers, who rate each 1 to 7 stars."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base
from shared.db.types import UTCDateTime, utcnow
from shared.ids import new_id


class PanelReview(Base):
    """One request to a panel: some applications for one vacancy, until ``due_at``."""

    __tablename__ = "panel_reviews"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    vacancy_id: Mapped[UUID] = mapped_column(ForeignKey("vacancies.id"))
    command_id: Mapped[UUID | None]
    message: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | closed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PanelReviewCandidate(Base):
    """An application the panel rates."""

    __tablename__ = "panel_review_candidates"

    review_id: Mapped[UUID] = mapped_column(ForeignKey("panel_reviews.id"), primary_key=True)
    application_id: Mapped[UUID] = mapped_column(primary_key=True, index=True)
    position: Mapped[int]  # the order the recruiter gave


class PanelReviewer(Base):
    """One reviewer of a review, with a private link.

    The link's token is random, minted by mail_worker when it sends the invitation, and
    kept only as its SHA-256 here; a new link replaces the old one, revoking stops it.
    """

    __tablename__ = "panel_reviewers"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"))
    review_id: Mapped[UUID] = mapped_column(ForeignKey("panel_reviews.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # internal | external
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PanelRating(Base):
    """A reviewer's stars (1 to 7) and comment for one candidate; changed until the due date."""

    __tablename__ = "panel_ratings"
    __table_args__ = (
        UniqueConstraint("reviewer_id", "application_id"),
        CheckConstraint("stars BETWEEN 1 AND 7", name="stars_1_to_7"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"))
    review_id: Mapped[UUID] = mapped_column(ForeignKey("panel_reviews.id"))
    reviewer_id: Mapped[UUID] = mapped_column(ForeignKey("panel_reviewers.id"))
    application_id: Mapped[UUID] = mapped_column(index=True)
    stars: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
