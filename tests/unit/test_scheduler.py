"""The scheduler: due jobs go to their worker once; pending ones can still be cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from shared.db.database import Database
from shared.db.models import OutboxMessage, ScheduledJob
from shared.messaging.scheduler import enqueue_due_jobs
from shared.statuses import ApplicationStatus
from tests.conftest import Tenant
from tests.seeds import seed_application, seed_reference
from tests.workflow import run


def _jobs(db: Database) -> list[ScheduledJob]:
    with db.transaction() as session:
        jobs = list(session.scalars(select(ScheduledJob).order_by(ScheduledJob.created_at)))
        session.expunge_all()
        return jobs


def test_a_rejection_email_waits_until_its_send_time_then_is_enqueued_once(
    db: Database, tenant: Tenant
) -> None:
    # Given a rejection whose email is due tomorrow, and an invitation due now
    reference = seed_reference(db, tenant.organisation_id)
    rejected = seed_application(
        db, tenant.organisation_id, reference.vacancy_id, ApplicationStatus.RECEIVED
    )
    invited = seed_application(
        db, tenant.organisation_id, reference.vacancy_id, ApplicationStatus.RECEIVED
    )
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    run(
        db,
        tenant.organisation_id,
        {
            "type": "reject_application",
            "application_id": str(rejected),
            "rejection_type": "by_company",
            "reason_id": str(reference.reason_id),
            "email": {"send_at": tomorrow.isoformat()},
        },
    )
    run(
        db,
        tenant.organisation_id,
        {
            "type": "invite_to_interview",
            "application_id": str(invited),
            "interview_type": "phone",
            "start": tomorrow.isoformat(),
            "duration_minutes": 30,
        },
    )
    # When the scheduler runs twice
    assert enqueue_due_jobs(db) == 1
    assert enqueue_due_jobs(db) == 0
    # Then only the due job went to the mail queue, with ids only
    by_purpose = {job.purpose: job for job in _jobs(db)}
    assert by_purpose["interview_invitation"].status == "enqueued"
    assert by_purpose["rejection"].status == "pending"
    with db.transaction() as session:
        [task] = session.scalars(
            select(OutboxMessage).where(OutboxMessage.destination == "mail")
        ).all()
    assert task.actor_name == "deliver_mail_job"
    assert task.payload == {
        "job_id": str(by_purpose["interview_invitation"].id),
        "organisation_id": str(tenant.organisation_id),
    }


def test_unreject_cancels_the_unsent_rejection_email(db: Database, tenant: Tenant) -> None:
    reference = seed_reference(db, tenant.organisation_id)
    application = seed_application(
        db, tenant.organisation_id, reference.vacancy_id, ApplicationStatus.INTERVIEW
    )
    run(
        db,
        tenant.organisation_id,
        {
            "type": "reject_application",
            "application_id": str(application),
            "rejection_type": "by_company",
            "reason_id": str(reference.reason_id),
            "email": {"send_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()},
        },
    )
    undone = run(
        db,
        tenant.organisation_id,
        {"type": "unreject_application", "application_id": str(application)},
    )
    assert undone.status == "succeeded"
    [job] = _jobs(db)
    assert (job.purpose, job.status) == ("rejection", "cancelled")
    assert enqueue_due_jobs(db) == 0


def test_withdrawing_cancels_every_pending_email_of_that_application_only(
    db: Database, tenant: Tenant
) -> None:
    reference = seed_reference(db, tenant.organisation_id)
    first = seed_application(
        db, tenant.organisation_id, reference.vacancy_id, ApplicationStatus.RECEIVED
    )
    second = seed_application(
        db, tenant.organisation_id, reference.vacancy_id, ApplicationStatus.RECEIVED
    )
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    for application in (first, second):
        run(
            db,
            tenant.organisation_id,
            {
                "type": "invite_to_interview",
                "application_id": str(application),
                "interview_type": "phone",
                "start": later,
                "duration_minutes": 30,
                "send_at": later,
            },
        )
    run(db, tenant.organisation_id, {"type": "withdraw_application", "application_id": str(first)})
    statuses = {str(job.application_id): job.status for job in _jobs(db)}
    assert statuses == {str(first): "cancelled", str(second): "pending"}
