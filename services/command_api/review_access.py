"""A reviewer's private link: who it is, what they may see, and saving their ratings.

The link's token is looked up by its SHA-256 only. A link is refused when unknown (or
replaced by a newer one), revoked, expired (at the review's due date, or 14 days after
it was sent) or when the review is closed; every read after that is scoped to the
reviewer's organisation and the review's own candidates. Ratings are blind: a reviewer
only ever reads their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final
from uuid import UUID

from pydantic import Field, StrictInt
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.commands.base import Contract
from shared.db.models import (
    Applicant,
    Application,
    CommandRecord,
    Organisation,
    PanelRating,
    PanelReview,
    PanelReviewCandidate,
    PanelReviewer,
    Vacancy,
)
from shared.db.types import utcnow
from shared.events import ReviewRatingSubmitted
from shared.ids import new_id
from shared.messaging.outbox import publish_event
from shared.tokens import hash_token

MAX_COMMENT: Final = 2_000


class Refusal(Enum):
    """Why a link shows no data."""

    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"
    CLOSED = "closed"

    @property
    def status(self) -> int:
        """The HTTP status of its error page: 404 for a link that never was (or was
        replaced), 410 Gone for one that stopped working."""
        return 404 if self is Refusal.UNKNOWN else 410


@dataclass(frozen=True)
class Candidate:
    application_id: UUID
    name: str
    applied_on: datetime
    has_cv: bool
    stars: int | None  # this reviewer's own rating, if any
    comment: str


@dataclass(frozen=True)
class ReviewAccess:
    reviewer: PanelReviewer
    review: PanelReview
    organisation: Organisation
    vacancy_title: str
    candidates: list[Candidate]
    recruiter: str  # who asked: the command's actor, else the organisation


class RatingIn(Contract):
    """One rating: strict whole stars from 1 to 7, so 0, 8, 3.5, "5" and true are refused."""

    application_id: UUID
    stars: StrictInt = Field(ge=1, le=7)
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)


class RatingsIn(Contract):
    ratings: list[RatingIn] = Field(min_length=1, max_length=50)


class LinkRefused(Exception):  # noqa: N818 - the link's refusal, shown as its page
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


class RatingProblem(ValueError):  # noqa: N818 - shown to the reviewer as it is
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def open_link(session: Session, token: str) -> ReviewAccess | Refusal:
    """What the link shows, or why it shows nothing."""
    if not 20 <= len(token) <= 100:
        return Refusal.UNKNOWN
    reviewer = session.scalar(
        select(PanelReviewer).where(PanelReviewer.token_hash == hash_token(token))
    )
    if reviewer is None:
        return Refusal.UNKNOWN
    review = session.get(PanelReview, reviewer.review_id)
    if review is None or review.organisation_id != reviewer.organisation_id:
        return Refusal.UNKNOWN
    refusal = _refusal(reviewer, review)
    if refusal is not None:
        return refusal
    organisation = session.get(Organisation, review.organisation_id)
    vacancy = session.get(Vacancy, review.vacancy_id)
    assert organisation is not None and vacancy is not None
    actor = session.scalar(
        select(CommandRecord.payload["actor"].as_string()).where(
            CommandRecord.id == review.command_id
        )
    )
    return ReviewAccess(
        reviewer,
        review,
        organisation,
        vacancy.title,
        _candidates(session, reviewer),
        recruiter=actor or organisation.name,
    )


def _refusal(reviewer: PanelReviewer, review: PanelReview) -> Refusal | None:
    if reviewer.revoked_at is not None:
        return Refusal.REVOKED
    if review.status == "closed":
        return Refusal.CLOSED
    now = utcnow()
    if (reviewer.token_expires_at and reviewer.token_expires_at <= now) or (
        review.due_at and review.due_at <= now
    ):
        return Refusal.EXPIRED
    return None


def _candidates(session: Session, reviewer: PanelReviewer) -> list[Candidate]:
    rows = session.execute(
        select(Application, Applicant.name)
        .join(PanelReviewCandidate, PanelReviewCandidate.application_id == Application.id)
        .join(Applicant, Applicant.id == Application.applicant_id)
        .where(
            PanelReviewCandidate.review_id == reviewer.review_id,
            Application.organisation_id == reviewer.organisation_id,
            Application.deleted_at.is_(None),
        )
        .order_by(PanelReviewCandidate.position)
    ).all()
    mine = {
        r.application_id: r
        for r in session.scalars(select(PanelRating).where(PanelRating.reviewer_id == reviewer.id))
    }
    return [
        Candidate(
            application_id=application.id,
            name=name,
            applied_on=application.created_at,
            has_cv=application.cv_document_id is not None,
            stars=mine[application.id].stars if application.id in mine else None,
            comment=(mine[application.id].comment or "") if application.id in mine else "",
        )
        for application, name in rows
    ]


def save_ratings(session: Session, access: ReviewAccess, ratings: list[RatingIn]) -> int:
    """Store the reviewer's ratings (each replaces their earlier one for that candidate);
    all or nothing. Returns how many changed.

    The reviewer's row is locked first, so two saves of one reviewer (a double click, a
    retried request) run one after the other; and the link is checked again under that
    lock, so a revoke or close that committed meanwhile wins. Raises :class:`LinkRefused`
    then, and :class:`RatingProblem` for a candidate not in the review.
    """
    candidates = {c.application_id for c in access.candidates}
    for index, rating in enumerate(ratings):
        if rating.application_id not in candidates:
            raise RatingProblem(f"ratings.{index}.application_id", "not a candidate of this review")
    reviewer = session.scalars(
        select(PanelReviewer)
        .where(PanelReviewer.id == access.reviewer.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    review = session.scalars(
        select(PanelReview)
        .where(PanelReview.id == reviewer.review_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    ).one()
    refusal = _refusal(reviewer, review)
    if refusal is not None:
        raise LinkRefused(refusal)
    now = utcnow()
    existing = {
        r.application_id: r
        for r in session.scalars(select(PanelRating).where(PanelRating.reviewer_id == reviewer.id))
    }
    changed = 0
    for rating in ratings:
        comment = (rating.comment or "").strip() or None
        row = existing.get(rating.application_id)
        if row is not None and (row.stars, row.comment) == (rating.stars, comment):
            continue  # saved as it was: nothing to store or announce
        if row is None:
            row = PanelRating(
                id=new_id(),
                organisation_id=reviewer.organisation_id,
                review_id=reviewer.review_id,
                reviewer_id=reviewer.id,
                application_id=rating.application_id,
                created_at=now,
            )
            session.add(row)
            existing[rating.application_id] = row
        row.stars, row.comment, row.updated_at = rating.stars, comment, now
        changed += 1
        publish_event(
            session,
            ReviewRatingSubmitted(
                occurred_at=now,
                organisation_id=reviewer.organisation_id,
                review_id=reviewer.review_id,
                reviewer_id=reviewer.id,
                application_id=rating.application_id,
                stars=rating.stars,
            ),
        )
    return changed
