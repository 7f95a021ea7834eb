"""The scheduler's email recovery: no email waits for a person because its message is gone."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from services.mail_worker.jobs import deliver_mail_job
from services.mail_worker.mailer import SmtpMailer
from services.mail_worker.recovery import MAX_SEND_ATTEMPTS, Recovered, recover_emails
from shared.db.database import Database
from shared.db.models import OutboundEmail, OutboxMessage, ScheduledJob
from shared.db.types import utcnow
from shared.errors import TransientError
from shared.messaging.limits import STALE_AFTER
from shared.messaging.scheduler import enqueue_due_jobs
from shared.settings import Settings
from tests.conftest import Tenant
from tests.factories import register_body
from tests.mailbox import claim, compose
from tests.seeds import seed_reference
from tests.smtp_sinks import smtp_sink
from tests.workflow import run

LEASE = timedelta(minutes=5)


def _mail_tasks(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.destination == "mail")
                .order_by(OutboxMessage.created_at)
            )
        )


def _email(db: Database, email_id: uuid.UUID) -> OutboundEmail:
    with db.transaction() as session:
        email = session.get(OutboundEmail, email_id)
        assert email is not None
        session.expunge(email)
        return email


def _deliver(db: Database, task: dict[str, Any], *replies: str) -> int:
    """Deliver one mail task to a sink answering ``replies``; how many messages it kept."""
    with smtp_sink(*replies) as (sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        try:
            deliver_mail_job(db, mailer, compose, task, lease=LEASE)
        except TransientError:
            pass  # a 4xx: the job would be retried
        finally:
            mailer.close()
    return len(sink.received)


def _composed_pending(db: Database, tenant: Tenant, purpose: str = "receipt") -> uuid.UUID:
    """An email of ``purpose`` that one delivery composed and the server answered 451: it is
    pending, and its job message is being retried (or, in these tests, is gone)."""
    ref = seed_reference(db, tenant.organisation_id)
    registered = run(
        db,
        tenant.organisation_id,
        register_body(ref.vacancy_id, send_receipt=purpose == "receipt"),
    )
    if purpose == "offer":
        offered = run(
            db,
            tenant.organisation_id,
            {
                "type": "send_offer",
                "application_id": str(registered.application_id),
                "salary": {"amount": "3400", "currency": "EUR", "period": "month"},
                "start_date": "2027-04-01",
            },
        )
        assert offered.status == "succeeded"
    enqueue_due_jobs(db)
    [task] = _mail_tasks(db)
    _deliver(db, task, "451 4.3.0 Try again later")
    with db.transaction() as session:
        email = session.scalars(select(OutboundEmail)).one()
        assert (email.state, email.purpose) == ("pending", purpose)
        return email.id


def _died_mid_send(db: Database, email_id: uuid.UUID) -> None:
    """A worker claimed the email and died in the SMTP call; its lease ran out."""
    assert claim(db, email_id, lease=timedelta(seconds=-1)) is not None
    assert _email(db, email_id).state == "sending"


def _set(db: Database, email_id: uuid.UUID, **values: object) -> None:
    with db.transaction() as session:
        session.execute(update(OutboundEmail).where(OutboundEmail.id == email_id).values(values))


def test_an_email_whose_sender_died_mid_send_is_pending_again_and_its_job_enqueued_anew(
    db: Database, tenant: Tenant
) -> None:
    # Given a receipt whose sender died mid-send, and no message left to carry it
    email_id = _composed_pending(db, tenant)
    _died_mid_send(db, email_id)
    tasks_before = _mail_tasks(db)
    # When the scheduler's recovery runs
    recovered = recover_emails(db)
    # Then the receipt is pending and its job is on its way to mail_worker again
    assert recovered == Recovered(requeued=1)
    assert _email(db, email_id).state == "pending"
    new_tasks = _mail_tasks(db)[len(tasks_before) :]
    assert new_tasks == tasks_before  # the same job, once more
    # And that delivery sends it
    assert _deliver(db, new_tasks[0]) == 1
    assert (_email(db, email_id).state, _email(db, email_id).attempts) == ("sent", 3)


def test_an_at_most_once_email_whose_sender_died_is_reported_unknown_and_never_resent(
    db: Database, tenant: Tenant
) -> None:
    email_id = _composed_pending(db, tenant, purpose="offer")
    _died_mid_send(db, email_id)
    tasks_before = len(_mail_tasks(db))

    recovered = recover_emails(db)

    assert recovered == Recovered(unknown=1)
    assert _email(db, email_id).state == "unknown"
    assert len(_mail_tasks(db)) == tasks_before
    with db.transaction() as session:
        [told] = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.destination == "email.failed")
        ).all()
    assert (told["email_id"], told["state"]) == (str(email_id), "unknown")


def test_a_pending_email_nothing_touched_for_longer_than_any_retry_waits_is_enqueued_once(
    db: Database, tenant: Tenant
) -> None:
    # Given a pending receipt nothing touched since long before any retry would come back
    email_id = _composed_pending(db, tenant)
    _set(db, email_id, updated_at=utcnow() - STALE_AFTER - timedelta(minutes=1))
    tasks_before = len(_mail_tasks(db))
    # When the recovery runs twice
    first, second = recover_emails(db), recover_emails(db)
    # Then its job was enqueued once: the email counts as touched now
    assert (first, second) == (Recovered(requeued=1), Recovered())
    assert len(_mail_tasks(db)) == tasks_before + 1
    assert utcnow() - _email(db, email_id).updated_at < timedelta(minutes=1)


def test_a_pending_email_touched_recently_is_left_to_its_retry(
    db: Database, tenant: Tenant
) -> None:
    _composed_pending(db, tenant)  # its 451 was a moment ago: a retry is on its way
    tasks_before = len(_mail_tasks(db))

    assert recover_emails(db) == Recovered()
    assert len(_mail_tasks(db)) == tasks_before


@pytest.mark.parametrize("sending", [False, True], ids=["pending", "sender-died"])
def test_an_email_that_used_up_its_attempts_waits_for_its_dead_letter_instead(
    db: Database, tenant: Tenant, sending: bool
) -> None:
    # Given a receipt whose job made every attempt it may (its dead letter is replayable)
    email_id = _composed_pending(db, tenant)
    if sending:
        _died_mid_send(db, email_id)
    _set(
        db,
        email_id,
        attempts=MAX_SEND_ATTEMPTS,
        updated_at=utcnow() - STALE_AFTER - timedelta(minutes=1),
    )
    tasks_before = len(_mail_tasks(db))

    recovered = recover_emails(db)

    assert recovered == Recovered(left=1 if sending else 0)
    assert _email(db, email_id).state == "pending"
    assert len(_mail_tasks(db)) == tasks_before


def test_an_email_whose_job_was_cancelled_is_not_enqueued_again(
    db: Database, tenant: Tenant
) -> None:
    email_id = _composed_pending(db, tenant)
    _died_mid_send(db, email_id)
    with db.transaction() as session:
        session.execute(update(ScheduledJob).values(status="cancelled"))
    tasks_before = len(_mail_tasks(db))

    assert recover_emails(db) == Recovered()
    assert _email(db, email_id).state == "pending"
    assert len(_mail_tasks(db)) == tasks_before
