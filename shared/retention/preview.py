"""The dry-run: what the next sweep would purge, and why, and whom it would ask to
extend their consent. Reads only; the API and ``werving retention preview`` show it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy.orm import Session

from shared.retention.consent import due_reminders
from shared.retention.due import DuePurge, due_purges
from shared.retention.policy import Policy, policy_of


@dataclass(frozen=True, slots=True)
class DueReminder:
    applicant_id: UUID
    consent_expires_at: datetime


@dataclass(frozen=True, slots=True)
class Preview:
    as_of: datetime
    policy: Policy
    purges: list[DuePurge]
    reminders: list[DueReminder]


def preview(session: Session, organisation_id: UUID, now: datetime, *, limit: int) -> Preview:
    """What a sweep at ``now`` would do for the organisation (at most ``limit`` of each,
    in the order the sweep takes them)."""
    policy = policy_of(session, organisation_id)
    return Preview(
        as_of=now,
        policy=policy,
        purges=due_purges(session, organisation_id, policy, now, limit=limit),
        reminders=[
            DueReminder(c.applicant_id, c.expires_at)
            for c in due_reminders(session, organisation_id, policy, now, limit=limit, lock=False)
        ],
    )
