"""send_email, forward_cv and send_letter, from command to the SMTP server."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shared.db.database import Database
from shared.db.models import OutboxMessage, ScheduledJob
from shared.messaging.scheduler import enqueue_due_jobs
from tests.conftest import Tenant
from tests.factories import new_key, register_body
from tests.mailbox import deliver_due_mail, parsed
from tests.seeds import seed_reference
from tests.workflow import run

CANARY = {
    "name": "Canary Klaassen",
    "email": "canary.klaassen@example.org",
    "phone": "+31 6 12345678",
}


def _application(db: Database, tenant: Tenant) -> uuid.UUID:
    ref = seed_reference(db, tenant.organisation_id)
    record = run(
        db,
        tenant.organisation_id,
        register_body(ref.vacancy_id, applicant={**CANARY, "locale": "en"}),
    )
    assert record.application_id is not None
    return record.application_id


def test_an_ad_hoc_email_goes_to_its_cc_and_bcc_without_showing_the_bcc(
    db: Database, tenant: Tenant
) -> None:
    application = _application(db, tenant)
    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "send_email",
            "application_id": str(application),
            "cc": ["hiring.manager@example.org"],
            "bcc": ["archive@example.org"],
            "subject": "Your documents",
            "text": "Please bring your passport.\nThanks!",
        },
    )
    assert record.status == "succeeded"
    sink = deliver_due_mail(db)
    [(_sender, recipients)] = sink.envelopes
    assert sorted(recipients) == [
        "archive@example.org",
        "canary.klaassen@example.org",
        "hiring.manager@example.org",
    ]
    message = parsed(sink.received[0])
    assert message["Subject"] == "Your documents"
    assert message["Cc"] == "hiring.manager@example.org"
    assert message["Bcc"] is None
    html = message.get_body(("html",))
    assert html is not None and "passport.<br>Thanks!" in html.get_content()


def test_an_ad_hoc_emails_html_reaches_the_smtp_server_sanitised(
    db: Database, tenant: Tenant
) -> None:
    # Given a send_email whose HTML would run a script, frame, load and phone home
    application = _application(db, tenant)
    run(
        db,
        tenant.organisation_id,
        {
            "type": "send_email",
            "application_id": str(application),
            "subject": "Your interview",
            "html": '<p>See you <b>Monday</b>, <a href="https://jobs.example/i/1">details</a>.</p>'
            '<script>alert(1)</script><img src="https://tracker.example/p.gif" onerror="x()">'
            '<iframe src="https://evil.example"></iframe><a href="javascript:steal()">win</a>'
            '<p style="color: #112233; background-image: url(https://tracker.example/b.png)">',
        },
    )

    # When it is delivered
    html = parsed(deliver_due_mail(db).received[0]).get_body(("html",))

    # Then what reaches the server keeps the formatting and the link, and nothing else
    assert html is not None
    content = html.get_content()
    for gone in ("<script", "alert(1)", "tracker.example", "<iframe", "javascript:", "onerror"):
        assert gone not in content
    assert "<b>Monday</b>" in content
    assert '<a href="https://jobs.example/i/1" rel="noopener noreferrer">details</a>' in content
    assert '<p style="color:#112233">' in content


def test_a_plain_forward_names_the_applicant(db: Database, tenant: Tenant) -> None:
    application = _application(db, tenant)
    run(
        db,
        tenant.organisation_id,
        {"type": "forward_cv", "application_id": str(application), "to": ["panel@example.org"]},
    )
    body = parsed(deliver_due_mail(db).received[0]).get_body(("plain",))
    assert body is not None and "Canary Klaassen" in body.get_content()


def test_a_rejected_letter_by_email_carries_the_reason(db: Database, tenant: Tenant) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "register_application",
            "vacancy_id": str(ref.vacancy_id),
            "applicant": {"name": "Ann de Vries", "email": "ann@example.org", "locale": "nl"},
        },
    )
    run(
        db,
        tenant.organisation_id,
        {
            "type": "reject_application",
            "application_id": str(record.application_id),
            "rejection_type": "by_company",
            "reason_id": str(ref.reason_id),
        },
    )
    letter = run(
        db,
        tenant.organisation_id,
        {"type": "send_letter", "application_id": str(record.application_id), "letter": "rejected"},
    )
    assert letter.status == "succeeded"
    body = parsed(deliver_due_mail(db).received[0]).get_body(("plain",))
    assert body is not None and "Voldoet niet" in body.get_content()


def test_a_printed_letter_goes_to_the_document_worker(db: Database, tenant: Tenant) -> None:
    application = _application(db, tenant)
    run(
        db,
        tenant.organisation_id,
        {
            "type": "send_letter",
            "application_id": str(application),
            "letter": "received",
            "channel": "print",
        },
    )
    assert enqueue_due_jobs(db) == 1
    with db.transaction() as session:
        job = session.scalars(select(ScheduledJob)).one()
        task = session.scalars(
            select(OutboxMessage).where(OutboxMessage.destination == "documents")
        ).one()
    assert (job.kind, job.purpose, job.status) == ("document", "letter_received", "enqueued")
    assert task.actor_name == "render_document_job"
    assert task.payload["job_id"] == str(job.id)


def test_an_ad_hoc_email_from_a_template_takes_the_values_the_application_lacks(
    db: Database, tenant: Tenant
) -> None:
    application = _application(db, tenant)
    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "send_email",
            "application_id": str(application),
            "template": "offer",
            "variables": {
                "offer_salary": "€3,600.00 per month",
                "offer_start_date": "1 June 2027",
                "offer_expires": "",
                "message": "As discussed on the phone.",
            },
        },
    )

    assert record.status == "succeeded"
    message = parsed(deliver_due_mail(db).received[0])
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "€3,600.00 per month" in text and "1 June 2027" in text
    assert "As discussed on the phone." in text and "Dear Canary" in text
    assert message["Subject"] == "Our offer for the Nurse position"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"template": "offer"}, "variables missing for offer: message, offer_expires"),
        (
            {"template": "receipt", "variables": {"applicant_name": "Someone else"}},
            "variables receipt does not take from the command: applicant_name",
        ),
        ({"template": "credentials"}, "template 'credentials' cannot be sent ad hoc"),
        ({"subject": "Hi", "text": "x", "variables": {"a": "b"}}, "variables go with a template"),
    ],
)
def test_an_ad_hoc_template_with_wrong_variables_is_refused_when_posted(
    client: TestClient, db: Database, tenant: Tenant, fields: dict[str, object], message: str
) -> None:
    application = _application(db, tenant)

    response = client.post(
        "/v1/commands",
        json={"type": "send_email", "application_id": str(application), **fields},
        headers={**tenant.headers, "Idempotency-Key": new_key()},
    )

    assert response.status_code == 422
    assert message in response.json()["detail"]
