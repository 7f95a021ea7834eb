"""``/v1/panel-reviews/{id}``: a panel review's reviewers and, per candidate, the results."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends

from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import DatabaseDep, require
from services.command_api.problems import not_found
from services.command_api.responses import NOT_FOUND
from services.command_api.review_results import PanelReviewView, review_view

router = APIRouter(prefix="/v1/panel-reviews", tags=["panel reviews"])


@router.get("/{review_id}", response_model=PanelReviewView, responses=NOT_FOUND)
def get_panel_review(
    review_id: UUID,
    principal: Annotated[Principal, Depends(require(Scope.APPLICATIONS_READ))],
    db: DatabaseDep,
) -> PanelReviewView:
    """The review (its id is in the outcome of `request_panel_review`), its reviewers, and
    per candidate the count, mean, median, min and max of the stars and every comment."""
    with db.transaction() as session:
        view = review_view(session, principal.organisation_id, review_id)
    if view is None:
        raise not_found("panel review", review_id)
    return view
