"""Panel reviews: checked and recorded here; the invitations (each with a private link that
mail_worker mints when it sends) go out as mail jobs, one per reviewer."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.status_worker.changes import record, schedule_mail, target_status
from services.status_worker.unit_of_work import CommandContext
from shared.commands import (
    ClosePanelReview,
    RequestPanelReview,
    ResendPanelReviewLink,
    RevokePanelReviewer,
)
from shared.db.models import (
    Application,
    PanelReview,
    PanelReviewCandidate,
    PanelReviewer,
    ScheduledJob,
)
from shared.errors import RefusalCode, Refused
from shared.ids import new_id
from shared.statuses import ApplicationStatus

INVITATION = "panel_review_invitation"


def request_panel_review(session: Session, ctx: CommandContext, cmd: RequestPanelReview) -> None:
    found = {
        a.id: a
        for a in session.scalars(
            select(Application)
            .where(
                Application.id.in_(cmd.application_ids),
                Application.organisation_id == ctx.organisation_id,
            )
            .with_for_update()
        )
    }
    missing = [str(i) for i in cmd.application_ids if i not in found]
    if missing:
        raise Refused(RefusalCode.NOT_FOUND, f"application(s) {', '.join(missing)} not found")
    applications = [found[i] for i in cmd.application_ids]
    for application in applications:
        target_status(application, cmd.type)  # active and not deleted, or refused
    vacancies = {a.vacancy_id for a in applications}
    if len(vacancies) > 1:
        raise Refused(
            RefusalCode.MIXED_VACANCIES,
            "a panel review is for one vacancy; the applications are for"
            f" {len(vacancies)} vacancies",
        )
    review = PanelReview(
        id=new_id(),
        organisation_id=ctx.organisation_id,
        vacancy_id=applications[0].vacancy_id,
        command_id=ctx.command_id,
        message=cmd.message,
        due_at=cmd.due,
        status="open",
        created_at=ctx.now,
    )
    session.add(review)
    session.add_all(
        PanelReviewCandidate(review_id=review.id, application_id=a.id, position=n)
        for n, a in enumerate(applications)
    )
    reviewer_ids = []
    for reviewer_in in cmd.reviewers:
        reviewer = PanelReviewer(
            id=new_id(),
            organisation_id=ctx.organisation_id,
            review_id=review.id,
            email=reviewer_in.email,
            name=reviewer_in.name,
            kind=reviewer_in.kind,
            created_at=ctx.now,
        )
        session.add(reviewer)
        reviewer_ids.append(str(reviewer.id))
        _invite(session, ctx, review, reviewer)
    for application in applications:
        record(session, ctx, application, ApplicationStatus(application.status), "review.requested")
    ctx.result["review_id"] = str(review.id)
    ctx.result["reviewer_ids"] = reviewer_ids  # in the order the command gave them


def revoke_panel_reviewer(session: Session, ctx: CommandContext, cmd: RevokePanelReviewer) -> None:
    _, reviewer = _reviewer(session, ctx, cmd.review_id, cmd.reviewer_id)
    if reviewer.revoked_at is None:
        reviewer.revoked_at = ctx.now  # the link stops working with this commit
    _cancel_invitations(session, ctx, reviewer.id)


def resend_panel_review_link(
    session: Session, ctx: CommandContext, cmd: ResendPanelReviewLink
) -> None:
    review, reviewer = _reviewer(session, ctx, cmd.review_id, cmd.reviewer_id)
    _require_open(review)
    if review.due_at is not None and review.due_at <= ctx.now:
        raise Refused(RefusalCode.REVIEW_CLOSED, f"panel review {review.id} is past its due date")
    if reviewer.revoked_at is not None:
        raise Refused(RefusalCode.REVIEWER_REVOKED, f"reviewer {reviewer.id} was revoked")
    # mail_worker mints the new link when it sends, which replaces (revokes) the old one.
    _cancel_invitations(session, ctx, reviewer.id)
    _invite(session, ctx, review, reviewer)


def close_panel_review(session: Session, ctx: CommandContext, cmd: ClosePanelReview) -> None:
    review = _review(session, ctx, cmd.review_id)
    if review.status != "closed":
        review.status, review.closed_at = "closed", ctx.now
    for reviewer_id in _reviewer_ids(session, review.id):
        _cancel_invitations(session, ctx, reviewer_id)


def _invite(
    session: Session, ctx: CommandContext, review: PanelReview, reviewer: PanelReviewer
) -> None:
    schedule_mail(
        session,
        ctx,
        None,
        INVITATION,
        command_id=ctx.command_id,
        review_id=review.id,
        reviewer_id=reviewer.id,
    )


def _cancel_invitations(session: Session, ctx: CommandContext, reviewer_id: UUID) -> None:
    """The reviewer's invitations that have not gone to mail_worker yet."""
    session.execute(
        update(ScheduledJob)
        .where(
            ScheduledJob.organisation_id == ctx.organisation_id,
            ScheduledJob.purpose == INVITATION,
            ScheduledJob.status == "pending",
            ScheduledJob.payload["reviewer_id"].as_string() == str(reviewer_id),
        )
        .values(status="cancelled", cancelled_at=ctx.now)
        .execution_options(synchronize_session=False)
    )


def _review(session: Session, ctx: CommandContext, review_id: UUID) -> PanelReview:
    review = session.scalar(
        select(PanelReview)
        .where(PanelReview.id == review_id, PanelReview.organisation_id == ctx.organisation_id)
        .with_for_update()
    )
    if review is None:
        raise Refused(RefusalCode.NOT_FOUND, f"panel review {review_id} not found")
    return review


def _reviewer(
    session: Session, ctx: CommandContext, review_id: UUID, reviewer_id: UUID
) -> tuple[PanelReview, PanelReviewer]:
    review = _review(session, ctx, review_id)
    reviewer = session.scalar(
        select(PanelReviewer)
        .where(PanelReviewer.id == reviewer_id, PanelReviewer.review_id == review.id)
        .with_for_update()
    )
    if reviewer is None:
        raise Refused(RefusalCode.NOT_FOUND, f"reviewer {reviewer_id} not found in the review")
    return review, reviewer


def _reviewer_ids(session: Session, review_id: UUID) -> list[UUID]:
    return list(
        session.scalars(
            select(PanelReviewer.id)
            .where(PanelReviewer.review_id == review_id)
            .order_by(PanelReviewer.created_at, PanelReviewer.email)
        )
    )


def _require_open(review: PanelReview) -> None:
    if review.status == "closed":
        raise Refused(RefusalCode.REVIEW_CLOSED, f"panel review {review.id} is closed")
