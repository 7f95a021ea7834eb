"""A scheduled mail job, delivered by the mail worker's handler to a real SMTP sink."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import icalendar
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from services.mail_worker.jobs import LEASE_SLACK_MS, deliver_mail_job
from services.mail_worker.mailer import SmtpMailer
from shared.db.database import Database
from shared.db.models import OutboundEmail, OutboxMessage
from shared.db.types import utcnow
from shared.errors import RetryLater, TransientError
from shared.messaging.limits import MAX_BACKOFF_MS
from shared.messaging.scheduler import enqueue_due_jobs
from shared.settings import Settings
from tests.conftest import Tenant, make_tenant
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
                select(OutboxMessage.payload).where(OutboxMessage.destination == "mail")
            )
        )


def _parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _register(db: Database, tenant: Tenant, locale: str) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    record = run(
        db,
        tenant.organisation_id,
        register_body(
            ref.vacancy_id,
            send_receipt=True,
            applicant={"name": "Ann de Vries", "email": "ann@example.org", "locale": locale},
        ),
    )
    assert record.status == "succeeded"


def test_a_receipt_goes_out_once_in_the_applicants_language_with_both_parts(
    db: Database, tenant: Tenant
) -> None:
    # Given a registration that asked for a receipt, handed to the mail queue
    _register(db, tenant, "nl")
    assert enqueue_due_jobs(db) == 1
    [task] = _mail_tasks(db)
    with smtp_sink() as (sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        # When the job is delivered twice (a redelivery)
        deliver_mail_job(db, mailer, compose, task, lease=LEASE)
        deliver_mail_job(db, mailer, compose, task, lease=LEASE)
        mailer.close()
    # Then one email was sent, in Dutch, with a text and an HTML part and fixed headers
    assert len(sink.received) == 1
    message = _parsed(sink.received[0])
    assert message["To"] == "Ann de Vries <ann@example.org>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@werving.localhost>")
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "Ann" in text.get_content() and "Nurse" in text.get_content()
    assert message["Content-Language"] == "nl"
    with db.transaction() as session:
        email = session.scalars(select(OutboundEmail)).one()
    assert (email.state, email.attempts, email.purpose) == ("sent", 1, "receipt")
    assert sink.envelopes == [("no-reply@werving.localhost", ["ann@example.org"])]


def test_english_applicants_get_english_mail(db: Database, tenant: Tenant) -> None:
    _register(db, tenant, "en")
    enqueue_due_jobs(db)
    [task] = _mail_tasks(db)
    with smtp_sink() as (sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        deliver_mail_job(db, mailer, compose, task, lease=LEASE)
        mailer.close()
    assert _parsed(sink.received[0])["Content-Language"] == "en"


def test_a_rejection_cancelled_by_unreject_is_never_sent_even_if_already_queued(
    db: Database, tenant: Tenant
) -> None:
    # Given a rejection email that already went to the mail queue
    ref = seed_reference(db, tenant.organisation_id)
    registered = run(
        db,
        tenant.organisation_id,
        {
            "type": "register_application",
            "vacancy_id": str(ref.vacancy_id),
            "applicant": {"name": "Bob Jansen", "email": "bob@example.org"},
        },
    )
    run(
        db,
        tenant.organisation_id,
        {
            "type": "reject_application",
            "application_id": str(registered.application_id),
            "rejection_type": "by_company",
            "reason_id": str(ref.reason_id),
            "email": {},
        },
    )
    enqueue_due_jobs(db)
    [task] = _mail_tasks(db)
    # When the recruiter unrejects before the worker gets to it
    from shared.db.models import ScheduledJob

    with db.transaction() as session:
        job = session.scalars(select(ScheduledJob)).one()
        job.status = "cancelled"  # what unreject does to a job that is not yet sent
    with smtp_sink() as (sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        deliver_mail_job(db, mailer, compose, task, lease=LEASE)
        mailer.close()
    # Then nothing is sent
    assert sink.received == []


def test_an_interview_invitation_names_the_time_in_the_applicants_language(
    db: Database, tenant: Tenant
) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    registered = run(
        db,
        tenant.organisation_id,
        {
            "type": "register_application",
            "vacancy_id": str(ref.vacancy_id),
            "applicant": {"name": "Ann de Vries", "email": "ann@example.org", "locale": "en"},
        },
    )
    start = datetime(2030, 3, 11, 13, 30, tzinfo=UTC)
    run(
        db,
        tenant.organisation_id,
        {
            "type": "invite_to_interview",
            "application_id": str(registered.application_id),
            "interview_type": "in_person",
            "location": "Main office",
            "start": start.isoformat(),
            "duration_minutes": 60,
        },
    )
    enqueue_due_jobs(db)
    [task] = _mail_tasks(db)
    with smtp_sink() as (sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        deliver_mail_job(db, mailer, compose, task, lease=LEASE)
        mailer.close()
    message = _parsed(sink.received[0])
    body = message.get_body(("plain",))
    assert body is not None
    content = body.get_content()
    assert "Main office" in content and "11 March 2030" in content and "14:30" in content
    [invitation] = [
        part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"
    ]
    ics = invitation.get_payload(decode=True)
    assert isinstance(ics, bytes)
    event = icalendar.Calendar.from_ical(ics).walk("VEVENT")[0]
    assert event.decoded("DTSTART") == start
    assert str(event["LOCATION"]) == "Main office"
    assert "ann@example.org" in str(event["ATTENDEE"])


def test_purging_an_application_erases_its_emails(db: Database, tenant: Tenant) -> None:
    _register(db, tenant, "en")
    enqueue_due_jobs(db)
    [task] = _mail_tasks(db)
    with smtp_sink() as (_sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        deliver_mail_job(db, mailer, compose, task, lease=LEASE)
        mailer.close()
    with db.transaction() as session:
        email = session.scalars(select(OutboundEmail)).one()
    assert email.application_id is not None
    for step in ("delete_application", "purge_application"):
        record = run(
            db, tenant.organisation_id, {"type": step, "application_id": str(email.application_id)}
        )
        assert record.status == "succeeded"
    with db.transaction() as session:
        assert session.scalars(select(OutboundEmail)).all() == []


def test_an_application_lists_its_emails_with_their_state(
    db: Database, tenant: Tenant, client: TestClient
) -> None:
    _register(db, tenant, "en")
    enqueue_due_jobs(db)
    [task] = _mail_tasks(db)
    with smtp_sink("550 5.1.1 No such user") as (_sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        deliver_mail_job(db, mailer, compose, task, lease=LEASE)
        mailer.close()
    with db.transaction() as session:
        application_id = session.scalars(select(OutboundEmail.application_id)).one()
    listed = client.get(f"/v1/applications/{application_id}/emails", headers=tenant.headers).json()
    [email] = listed["items"]
    assert (email["purpose"], email["state"], email["attempts"]) == ("receipt", "failed", 1)
    assert "550" in email["smtp_reply"]
    other = make_tenant(db, name="Other")
    assert (
        client.get(f"/v1/applications/{application_id}/emails", headers=other.headers).status_code
        == 404
    )


def _held_receipt(db: Database, tenant: Tenant, lease: timedelta) -> tuple[dict[str, Any], Any]:
    """A receipt's job, and its email claimed by another delivery for ``lease`` (a worker
    that is sending it, or died doing so)."""
    _register(db, tenant, "nl")
    enqueue_due_jobs(db)
    [task] = _mail_tasks(db)
    with smtp_sink("451 4.3.0 Try again later") as (_sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        with pytest.raises(TransientError):
            deliver_mail_job(db, mailer, compose, task, lease=LEASE)
        mailer.close()
    with db.transaction() as session:
        email_id = session.scalars(select(OutboundEmail.id)).one()
    assert claim(db, email_id, lease=lease) is not None
    return task, email_id


def test_a_job_whose_email_another_delivery_holds_comes_back_when_the_lease_runs_out(
    db: Database, tenant: Tenant
) -> None:
    # Given a receipt another delivery claimed for the next two minutes (then its worker
    # was killed: RabbitMQ delivers the job again at once)
    task, email_id = _held_receipt(db, tenant, timedelta(minutes=2))
    # When the job is delivered again
    with smtp_sink() as (sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        with pytest.raises(RetryLater) as later:
            deliver_mail_job(db, mailer, compose, task, lease=LEASE)
        # Then it is not done: it is retried just after the lease runs out
        assert later.value.delay is not None
        assert 119_000 <= later.value.delay <= 121_000 + LEASE_SLACK_MS
        assert sink.received == []
        # And once the lease ran out, that retry sends the email
        with db.transaction() as session:
            session.execute(
                update(OutboundEmail)
                .where(OutboundEmail.id == email_id)
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )
        deliver_mail_job(db, mailer, compose, task, lease=LEASE)
        mailer.close()
    assert len(sink.received) == 1
    with db.transaction() as session:
        assert session.scalars(select(OutboundEmail.state)).one() == "sent"


def test_a_job_waiting_for_a_long_lease_comes_back_within_the_longest_backoff(
    db: Database, tenant: Tenant
) -> None:
    # A later eta would be refused by the worker's screening as no retry of werving's.
    task, _ = _held_receipt(db, tenant, timedelta(hours=1))
    with smtp_sink() as (_sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        with pytest.raises(RetryLater) as later:
            deliver_mail_job(db, mailer, compose, task, lease=LEASE)
        mailer.close()
    assert later.value.delay == MAX_BACKOFF_MS
