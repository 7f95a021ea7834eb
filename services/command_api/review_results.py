"""What reviewers said, for the recruiter: per candidate the count, mean, median, minimum
and maximum of the stars, and each comment with its reviewer."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import PanelRating, PanelReview, PanelReviewCandidate, PanelReviewer


class RatingSummary(BaseModel):
    count: int
    mean: float | None = Field(description="Rounded to two decimals; null without ratings.")
    median: float | None
    min: int | None
    max: int | None


class ReviewComment(BaseModel):
    review_id: UUID
    reviewer_id: UUID
    reviewer_name: str
    reviewer_kind: Literal["internal", "external"]
    stars: int
    comment: str | None
    updated_at: datetime


class CandidateRatings(BaseModel):
    summary: RatingSummary
    ratings: list[ReviewComment] = Field(description="Each reviewer's stars and comment.")


class ReviewerView(BaseModel):
    id: UUID
    name: str
    email: str
    kind: Literal["internal", "external"]
    status: Literal["pending", "invited", "revoked"] = Field(
        description="`pending` until the invitation is sent; a link is never shown."
    )
    invited_at: datetime | None
    link_expires_at: datetime | None


class CandidateResult(BaseModel):
    application_id: UUID
    results: CandidateRatings


class PanelReviewView(BaseModel):
    id: UUID
    vacancy_id: UUID
    status: Literal["open", "closed"]
    message: str | None
    due_at: datetime | None
    created_at: datetime
    closed_at: datetime | None
    reviewers: list[ReviewerView]
    candidates: list[CandidateResult]


def summarise(stars: list[int]) -> RatingSummary:
    if not stars:
        return RatingSummary(count=0, mean=None, median=None, min=None, max=None)
    return RatingSummary(
        count=len(stars),
        mean=round(statistics.fmean(stars), 2),
        median=float(statistics.median(stars)),
        min=min(stars),
        max=max(stars),
    )


def candidate_ratings(
    session: Session, organisation_id: UUID, application_id: UUID, review_id: UUID | None = None
) -> CandidateRatings:
    """All panel ratings of one application (in one review, when given)."""
    query = (
        select(PanelRating, PanelReviewer)
        .join(PanelReviewer, PanelReviewer.id == PanelRating.reviewer_id)
        .where(
            PanelRating.application_id == application_id,
            PanelRating.organisation_id == organisation_id,
        )
        .order_by(PanelRating.updated_at, PanelReviewer.name)
    )
    if review_id is not None:
        query = query.where(PanelRating.review_id == review_id)
    rows = session.execute(query).all()
    return CandidateRatings(
        summary=summarise([rating.stars for rating, _ in rows]),
        ratings=[
            ReviewComment(
                review_id=rating.review_id,
                reviewer_id=reviewer.id,
                reviewer_name=reviewer.name,
                reviewer_kind=reviewer.kind,
                stars=rating.stars,
                comment=rating.comment,
                updated_at=rating.updated_at,
            )
            for rating, reviewer in rows
        ],
    )


def review_view(session: Session, organisation_id: UUID, review_id: UUID) -> PanelReviewView | None:
    review = session.scalar(
        select(PanelReview).where(
            PanelReview.id == review_id, PanelReview.organisation_id == organisation_id
        )
    )
    if review is None:
        return None
    reviewers = session.scalars(
        select(PanelReviewer)
        .where(PanelReviewer.review_id == review.id)
        .order_by(PanelReviewer.created_at, PanelReviewer.email)
    )
    candidates = session.scalars(
        select(PanelReviewCandidate.application_id)
        .where(PanelReviewCandidate.review_id == review.id)
        .order_by(PanelReviewCandidate.position)
    )
    return PanelReviewView(
        id=review.id,
        vacancy_id=review.vacancy_id,
        status=review.status,
        message=review.message,
        due_at=review.due_at,
        created_at=review.created_at,
        closed_at=review.closed_at,
        reviewers=[
            ReviewerView(
                id=r.id,
                name=r.name,
                email=r.email,
                kind=r.kind,
                status="revoked" if r.revoked_at else "invited" if r.invited_at else "pending",
                invited_at=r.invited_at,
                link_expires_at=r.token_expires_at,
            )
            for r in reviewers
        ],
        candidates=[
            CandidateResult(
                application_id=application_id,
                results=candidate_ratings(session, organisation_id, application_id, review.id),
            )
            for application_id in candidates
        ],
    )
