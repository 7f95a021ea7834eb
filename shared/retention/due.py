"""What a retention policy says must go now, and why: one query for the sweep, the
dry-run and the purge's own check when it runs.

- A rejected or withdrawn application goes ``purge_after_weeks`` after its vacancy
  closed (or after it last changed, when that was later), unless its applicant's
  talent-pool consent still runs: then when the consent ends.
- A saved application (the talent pool) goes when its applicant's consent ended
  without being extended.
- Hired and active applications never go by retention.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal
from uuid import UUID

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from shared.db.models import Application, TalentPoolConsent, Vacancy
from shared.retention.policy import Policy

Reason = Literal["application_ended", "consent_lapsed"]
ENDED: Final = ("rejected", "withdrawn")
POOLED: Final = ("saved",)


@dataclass(frozen=True, slots=True)
class DuePurge:
    application_id: UUID
    applicant_id: UUID
    vacancy_id: UUID
    status: str
    version: int
    deleted: bool
    reason: Reason
    due_since: datetime


def due_purges(
    session: Session,
    organisation_id: UUID,
    policy: Policy,
    now: datetime,
    *,
    application_id: UUID | None = None,
    limit: int | None = None,
) -> list[DuePurge]:
    """The organisation's applications the policy says must be purged at ``now``, the
    longest overdue first; with ``limit``, that many of those unchanged the longest (the
    sweep takes the rest in its next round)."""
    if not policy.enabled:
        return []
    cutoff = now - policy.keep_after_end
    consent_over = or_(TalentPoolConsent.expires_at.is_(None), TalentPoolConsent.expires_at <= now)
    query = (
        select(
            Application.id,
            Application.applicant_id,
            Application.vacancy_id,
            Application.status,
            Application.version,
            Application.deleted_at,
            Application.updated_at,
            Vacancy.closed_at,
            TalentPoolConsent.expires_at,
        )
        .join(
            Vacancy,
            and_(
                Vacancy.id == Application.vacancy_id,
                Vacancy.organisation_id == Application.organisation_id,
            ),
        )
        .outerjoin(
            TalentPoolConsent,
            and_(
                TalentPoolConsent.applicant_id == Application.applicant_id,
                TalentPoolConsent.organisation_id == Application.organisation_id,
            ),
        )
        .where(
            Application.organisation_id == organisation_id,
            or_(
                and_(
                    Application.status.in_(ENDED),
                    Vacancy.is_open.is_(False),
                    Vacancy.closed_at <= cutoff,
                    Application.updated_at <= cutoff,
                    consent_over,
                ),
                and_(Application.status.in_(POOLED), TalentPoolConsent.expires_at <= now),
            ),
        )
    )
    if application_id is not None:
        query = query.where(Application.id == application_id)
    if limit is not None:  # a bounded page, the longest unchanged first
        query = query.order_by(Application.updated_at, Application.id).limit(limit)
    rows = session.execute(query).all()
    found = [
        DuePurge(
            application_id=row.id,
            applicant_id=row.applicant_id,
            vacancy_id=row.vacancy_id,
            status=row.status,
            version=row.version,
            deleted=row.deleted_at is not None,
            reason="application_ended" if row.expires_at is None else "consent_lapsed",
            due_since=_due_since(row.status, row.closed_at, row.updated_at, row.expires_at, policy),
        )
        for row in rows
    ]
    found.sort(key=lambda due: (due.due_since, due.application_id))
    return found


def _due_since(
    status: str,
    closed_at: datetime | None,
    updated_at: datetime,
    consent_expires_at: datetime | None,
    policy: Policy,
) -> datetime:
    if status in POOLED:
        assert consent_expires_at is not None
        return consent_expires_at
    assert closed_at is not None
    ended = max(closed_at, updated_at) + policy.keep_after_end
    return ended if consent_expires_at is None else max(ended, consent_expires_at)
