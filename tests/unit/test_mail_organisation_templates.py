"""An organisation's saved email template is what its mail jobs send, to a real SMTP sink."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from services.mail_worker.jobs import deliver_mail_job
from services.mail_worker.mailer import SmtpMailer
from shared.db.database import Database
from shared.db.models import EmailTemplate, OutboundEmail, OutboxMessage
from shared.messaging.scheduler import enqueue_due_jobs
from shared.settings import Settings
from tests.conftest import Tenant, make_tenant
from tests.factories import new_key, register_body
from tests.mailbox import compose
from tests.seeds import seed_reference
from tests.smtp_sinks import Sink, smtp_sink
from tests.workflow import run

LEASE = timedelta(minutes=5)

OUR_RECEIPT = {
    "subject": "Dank je, {{ applicant_first_name }}: {{ vacancy_title }}\n",
    "text": "Hoi {{ applicant_first_name }}, je brief voor {{ vacancy_title }} is binnen.\n"
    "Groet, {{ organisation_name }}\n",
    "html": (
        "<html><head><style>.hi { font-weight: bold; }</style></head>"
        '<body><p class="hi">Hoi {{ applicant_first_name }}</p></body></html>'
    ),
}


def _save(client: TestClient, tenant: Tenant, locale: str, body: dict[str, str]) -> None:
    headers = {**tenant.headers, "Idempotency-Key": new_key()}
    response = client.put(f"/v1/email-templates/receipt/{locale}", json=body, headers=headers)
    assert response.status_code == 201, response.text


def _register_with_receipt(db: Database, tenant: Tenant, locale: str | None) -> dict[str, Any]:
    """Register an application that asks for a receipt; returns the mail task."""
    ref = seed_reference(db, tenant.organisation_id)
    applicant = {"name": "Ann de Vries", "email": "ann@example.org"}
    if locale is not None:
        applicant["locale"] = locale
    record = run(
        db,
        tenant.organisation_id,
        register_body(ref.vacancy_id, send_receipt=True, applicant=applicant),
    )
    assert record.status == "succeeded"
    assert enqueue_due_jobs(db) == 1
    with db.transaction() as session:
        tasks = session.scalars(
            select(OutboxMessage.payload).where(
                OutboxMessage.destination == "mail",
                OutboxMessage.organisation_id == tenant.organisation_id,
            )
        ).all()
    [task] = tasks
    return dict(task)


def _deliver(db: Database, task: dict[str, Any]) -> Sink:
    with smtp_sink() as (sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        try:
            deliver_mail_job(db, mailer, compose, task, lease=LEASE)
        finally:
            mailer.close()
    return sink


def _parts(raw: bytes) -> tuple[str, str, str]:
    message = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    assert isinstance(message, EmailMessage)
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    # Line ends as written in the template: SMTP carries them as CRLF.
    text_part = str(text.get_content()).replace("\r\n", "\n")
    return str(message["Subject"]), text_part, str(html.get_content())


def test_a_saved_template_is_what_the_mail_job_sends_with_the_real_values(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given the organisation saved its own Dutch receipt through the API
    _save(client, tenant, "nl", OUR_RECEIPT)
    # And a Dutch applicant registers and asks for a receipt
    task = _register_with_receipt(db, tenant, "nl")

    # When the mail job is delivered
    sink = _deliver(db, task)

    # Then the email sent is the organisation's, filled with the application's values
    [raw] = sink.received
    subject, text, html = _parts(raw)
    assert subject == "Dank je, Ann: Nurse"
    assert text == "Hoi Ann, je brief voor Nurse is binnen.\nGroet, Acme\n"
    assert '<p class="hi" style="font-weight:bold">Hoi Ann</p>' in html
    # And nothing of the built-in receipt went along
    assert "ontvangen" not in (subject + text).lower()


def test_a_template_in_another_locale_or_of_another_organisation_is_not_used(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given the tenant has only an English receipt, and another organisation a Dutch one
    _save(client, tenant, "en", OUR_RECEIPT)
    _save(client, make_tenant(db, name="Other"), "nl", OUR_RECEIPT)
    # And one of the tenant's Dutch applicants asks for a receipt
    task = _register_with_receipt(db, tenant, "nl")

    # When the mail job is delivered
    sink = _deliver(db, task)

    # Then the applicant gets werving's built-in Dutch receipt
    [raw] = sink.received
    subject, _text, _html = _parts(raw)
    assert subject == "We hebben je sollicitatie ontvangen: Nurse"


def test_an_applicant_without_a_locale_gets_the_template_of_the_organisations_language(
    client: TestClient, db: Database
) -> None:
    # Given an English-speaking organisation with its own English and Dutch receipts
    tenant = make_tenant(db, name="Global", default_locale="en")
    _save(client, tenant, "en", OUR_RECEIPT | {"subject": "Thanks, {{ applicant_first_name }}"})
    _save(client, tenant, "nl", OUR_RECEIPT)
    # And an applicant who gave no language asks for a receipt
    task = _register_with_receipt(db, tenant, None)

    # When the mail job is delivered
    sink = _deliver(db, task)

    # Then the English one is sent
    [raw] = sink.received
    subject, _text, _html = _parts(raw)
    assert subject == "Thanks, Ann"


def test_a_broken_saved_template_records_the_email_as_failed_and_tells_and_sends_nothing(
    db: Database, tenant: Tenant
) -> None:
    # Given a saved receipt that no longer renders (written past the API's checks)
    with db.transaction() as session:
        session.add(
            EmailTemplate(
                organisation_id=tenant.organisation_id,
                purpose="receipt",
                locale="nl",
                subject=OUR_RECEIPT["subject"],
                text="Hoi {{ applicant_first_name }}\n{% if vacancy_title %}",
                html=OUR_RECEIPT["html"],
                version=3,
            )
        )
    task = _register_with_receipt(db, tenant, "nl")

    # When the mail job is delivered, twice (as a redelivery would)
    sink = _deliver(db, task)
    _deliver(db, task)

    # Then nothing was sent, and the job is settled: no error for a retry to repeat
    assert sink.received == []
    # And its email is recorded once, failed, saying which template, part and line
    with db.transaction() as session:
        [email] = session.scalars(select(OutboundEmail)).all()
        assert (email.state, email.attempts, email.recipient) == ("failed", 0, "ann@example.org")
        assert email.smtp_reply is not None
        assert email.smtp_reply.startswith(
            "template_error: receipt/nl organisation template v3: text: line 2: "
        )
        # And subscribers hear of it once: email.failed, ids and purpose only
        [told] = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.destination == "email.failed")
        ).all()
    assert told["email_id"] == str(email.id)
    assert (told["purpose"], told["state"]) == ("receipt", "failed")
    assert "Ann" not in str(told)
