"""The organisation's retention policy (read and set) and its dry-run: what the next
sweep of the scheduler would purge, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import DatabaseDep, IdempotencyKeyDep, SettingsDep, require
from services.command_api.idempotency import Response
from services.command_api.writes import write_once
from shared.commands.base import Contract
from shared.db.models import RetentionPolicy
from shared.db.types import utcnow
from shared.retention.policy import Policy, policy_of
from shared.retention.preview import preview

router = APIRouter(tags=["retention"])
ReaderDep = Annotated[Principal, Depends(require(Scope.RETENTION_READ))]
WriterDep = Annotated[Principal, Depends(require(Scope.RETENTION_WRITE))]
POLICY_PATH = "/v1/retention-policy"


class RetentionPolicyIn(Contract):
    """The whole policy (a PUT replaces it)."""

    enabled: bool = Field(
        description="false: the scheduler purges nothing and sends no reminder for this"
        " organisation (consent is still recorded)."
    )
    purge_after_weeks: int = Field(
        ge=1,
        le=520,
        strict=True,
        description="A rejected or withdrawn application is purged this many weeks after its"
        " vacancy closed (or it last changed, if later), unless its applicant's talent-pool"
        " consent runs.",
    )
    consent_months: int = Field(
        ge=1,
        le=60,
        strict=True,
        description="How long talent-pool consent lasts, from saving or from an extension.",
    )
    reminder_days: int = Field(
        ge=1,
        le=90,
        strict=True,
        description="How many days before the consent ends the applicant is emailed a link"
        " to extend it.",
    )


class RetentionPolicyView(RetentionPolicyIn):
    is_default: bool = Field(description="true until the organisation sets its own policy.")
    updated_at: datetime | None


class DuePurgeView(BaseModel):
    application_id: UUID
    applicant_id: UUID
    vacancy_id: UUID
    status: str
    deleted: bool
    reason: Literal["application_ended", "consent_lapsed"] = Field(
        description="application_ended: rejected or withdrawn, purge_after_weeks after its"
        " vacancy closed, without a running consent; consent_lapsed: its applicant's"
        " talent-pool consent ended without being extended."
    )
    due_since: datetime


class DueReminderView(BaseModel):
    applicant_id: UUID
    consent_expires_at: datetime


class RetentionPreview(BaseModel):
    as_of: datetime
    policy: RetentionPolicyView
    purges: list[DuePurgeView] = Field(
        description="What the next sweep purges (each a purge_application command with the"
        " source retention), the longest overdue first."
    )
    reminders: list[DueReminderView] = Field(
        description="Applicants the next sweep emails a link to extend their consent."
    )


def _view(policy: Policy, row: RetentionPolicy | None) -> RetentionPolicyView:
    return RetentionPolicyView(
        enabled=policy.enabled,
        purge_after_weeks=policy.purge_after_weeks,
        consent_months=policy.consent_months,
        reminder_days=policy.reminder_days,
        is_default=row is None,
        updated_at=None if row is None else row.updated_at,
    )


def _policy_view(session: Session, organisation_id: UUID) -> RetentionPolicyView:
    row = session.get(RetentionPolicy, organisation_id)
    return _view(policy_of(session, organisation_id), row)


@router.get(POLICY_PATH, response_model=RetentionPolicyView)
def get_retention_policy(principal: ReaderDep, db: DatabaseDep) -> RetentionPolicyView:
    """The organisation's retention policy (the defaults until it sets its own)."""
    with db.transaction() as session:
        return _policy_view(session, principal.organisation_id)


@router.put(POLICY_PATH, response_model=RetentionPolicyView)
def put_retention_policy(
    policy_in: RetentionPolicyIn,
    principal: WriterDep,
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Set the organisation's retention policy. It applies from the scheduler's next
    sweep; check what that would purge with `GET /v1/retention/preview` first."""

    def produce(session: Session) -> Response:
        row = session.get(RetentionPolicy, principal.organisation_id, with_for_update=True)
        if row is None:
            row = RetentionPolicy(organisation_id=principal.organisation_id)
            session.add(row)
        row.enabled = policy_in.enabled
        row.purge_after_weeks = policy_in.purge_after_weeks
        row.consent_months = policy_in.consent_months
        row.reminder_days = policy_in.reminder_days
        row.updated_at = utcnow()
        session.flush()
        return Response(
            200, _policy_view(session, principal.organisation_id).model_dump(mode="json")
        )

    return write_once(
        db,
        settings,
        principal,
        key,
        request=f"PUT {POLICY_PATH}",
        body=policy_in.model_dump(),
        produce=produce,
        location=lambda _body: POLICY_PATH,
    )


@router.get("/v1/retention/preview", response_model=RetentionPreview)
def preview_retention(
    principal: ReaderDep,
    db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many of each.")] = 1000,
) -> RetentionPreview:
    """The dry-run: what the next sweep would purge for this organisation, and why, and
    whom it would ask to extend their consent. Changes nothing."""
    with db.transaction() as session:
        found = preview(session, principal.organisation_id, utcnow(), limit=limit)
        policy = _policy_view(session, principal.organisation_id)
    return RetentionPreview(
        as_of=found.as_of,
        policy=policy,
        purges=[
            DuePurgeView(
                application_id=p.application_id,
                applicant_id=p.applicant_id,
                vacancy_id=p.vacancy_id,
                status=p.status,
                deleted=p.deleted,
                reason=p.reason,
                due_since=p.due_since,
            )
            for p in found.purges
        ],
        reminders=[
            DueReminderView(applicant_id=r.applicant_id, consent_expires_at=r.consent_expires_at)
            for r in found.reminders
        ],
    )
