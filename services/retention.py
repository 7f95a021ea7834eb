"""The retention sweep: what each organisation's policy says must go, sent as
``purge_application`` commands, and the emails that ask for consent to be extended.

A step of the scheduler process, in a thread of its own. A purge goes through the normal
command path (accepted with the source ``retention``, run by status_worker's purge
handler, which checks again that it is due), so a purge by retention is exactly a purge.
Safe to run twice: a purge's idempotency key names the application, its version and
when it fell due, and reminders are claimed with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.command_api.acceptance import accept_command
from services.command_api.idempotency import KeyInProgress
from shared.commands import PurgeApplication
from shared.db.database import Database
from shared.db.models import Application, Organisation, ScheduledJob
from shared.db.types import utcnow
from shared.ids import new_id
from shared.retention.consent import due_reminders
from shared.retention.due import DuePurge, due_purges
from shared.retention.policy import RETENTION_SOURCE, policy_of

log = structlog.get_logger(__name__)

REMINDER_PURPOSE = "talent_pool_consent"


@dataclass(slots=True)
class SweepReport:
    purges: list[UUID] = field(default_factory=list)  # applications whose purge was accepted
    reminders: list[UUID] = field(default_factory=list)  # applicants asked to extend


def purge_key(due: DuePurge) -> str:
    """One key per application, version and moment it fell due: a second sweep replays
    the first's command; an application that falls due again later gets a new one."""
    return f"retention/{due.application_id}/v{due.version}/{due.due_since.isoformat()}"


def sweep_retention(
    db: Database, *, key_retention: timedelta, now: datetime | None = None, batch: int = 500
) -> SweepReport:
    """One round over every organisation; what it sent."""
    now = now or utcnow()
    report = SweepReport()
    with db.transaction() as session:
        organisations = list(session.scalars(select(Organisation.id).order_by(Organisation.id)))
    for organisation_id in organisations:
        try:
            with db.transaction() as session:
                _sweep_organisation(session, organisation_id, now, key_retention, batch, report)
        except KeyInProgress:  # another sweep is accepting the same purge right now
            log.info("retention.organisation_skipped", organisation_id=str(organisation_id))
    return report


def _sweep_organisation(
    session: Session,
    organisation_id: UUID,
    now: datetime,
    key_retention: timedelta,
    batch: int,
    report: SweepReport,
) -> None:
    policy = policy_of(session, organisation_id)
    purges = due_purges(session, organisation_id, policy, now, limit=batch)
    for due in purges:
        accept_command(
            session,
            organisation_id=organisation_id,
            idempotency_key=purge_key(due),
            command=PurgeApplication(
                application_id=due.application_id,
                expected_version=due.version,
                actor=RETENTION_SOURCE,
            ),
            source=RETENTION_SOURCE,
            retention=key_retention,
        )
        report.purges.append(due.application_id)
    reminders = due_reminders(session, organisation_id, policy, now, limit=batch)
    for consent in reminders:
        consent.reminded_at = now
        subject = _reminder_subject(session, organisation_id, consent.applicant_id)
        if subject is None:
            continue
        session.add(
            ScheduledJob(
                id=new_id(),
                organisation_id=organisation_id,
                application_id=subject,
                command_id=None,
                kind="mail",
                purpose=REMINDER_PURPOSE,
                payload={"applicant_id": str(consent.applicant_id)},
                due_at=now,
                status="pending",
                created_at=now,
            )
        )
        report.reminders.append(consent.applicant_id)
    if purges or reminders:
        log.info(
            "retention.swept",
            organisation_id=str(organisation_id),
            purges=len(purges),
            reminders=len(reminders),
        )


def _reminder_subject(session: Session, organisation_id: UUID, applicant_id: UUID) -> UUID | None:
    """The application a reminder is written about: the applicant's latest, listed first."""
    return session.scalar(
        select(Application.id)
        .where(
            Application.organisation_id == organisation_id,
            Application.applicant_id == applicant_id,
        )
        .order_by(Application.deleted_at.is_(None).desc(), Application.updated_at.desc())
        .limit(1)
    )
