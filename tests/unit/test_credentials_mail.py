"""Save and send credentials: the applicant gets a one-time link to choose a password.

The link's token goes out in the email and nowhere else: the database keeps only its
SHA-256, and the copy of the email kept for the record has the token redacted.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from services.mail_worker import jobs
from services.mail_worker.delivery import send
from services.mail_worker.jobs import deliver_mail_job
from services.mail_worker.mailer import SmtpMailer
from shared.commands import JobMessage
from shared.db.database import Database
from shared.db.models import CandidateAccount, OutboundEmail, OutboxMessage, SetPasswordToken
from shared.errors import RetryLater, TransientError
from shared.messaging.scheduler import enqueue_due_jobs
from shared.settings import Settings
from tests.conftest import Tenant
from tests.factories import register_body
from tests.mailbox import compose
from tests.read_rows import every_value
from tests.seeds import seed_reference
from tests.smtp_sinks import smtp_sink
from tests.workflow import run

LEASE = timedelta(minutes=5)
LINK = re.compile(r"http://127\.0\.0\.1:8000/set-password\?token=([A-Za-z0-9_-]{43})")
EMAIL = "ann@example.org"


def _parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _texts(message: EmailMessage) -> list[str]:
    """Every text part, decoded (so no transfer encoding can hide a string)."""
    parts = []
    for part in message.walk():
        if not part.is_multipart() and part.get_content_maintype() == "text":
            assert isinstance(part, EmailMessage)
            parts.append(part.get_content())
    return parts


def _token_in(raw: bytes) -> str:
    """The token of the link in an email, the same in its text and HTML parts."""
    found = {match for text in _texts(_parsed(raw)) for match in LINK.findall(text)}
    assert len(found) == 1, found
    return str(found.pop())


def _an_application(db: Database, tenant: Tenant) -> uuid.UUID:
    ref = seed_reference(db, tenant.organisation_id)
    record = run(
        db,
        tenant.organisation_id,
        register_body(
            ref.vacancy_id, applicant={"name": "Ann de Vries", "email": EMAIL, "locale": "en"}
        ),
    )
    assert record.status == "succeeded" and record.application_id is not None
    return record.application_id


def _send_credentials(db: Database, tenant: Tenant, application_id: uuid.UUID) -> dict[str, Any]:
    """Run the command and hand its mail job to the mail queue; returns the mail task."""
    record = run(
        db,
        tenant.organisation_id,
        {"type": "save_and_send_credentials", "application_id": str(application_id)},
    )
    assert record.status == "succeeded"
    assert enqueue_due_jobs(db) == 1
    with db.transaction() as session:
        tasks = session.scalars(
            select(OutboxMessage.payload)
            .where(OutboxMessage.destination == "mail")
            .order_by(OutboxMessage.created_at)
        ).all()
    return dict(tasks[-1])


def _holds(value: object, secret: str) -> bool:
    if isinstance(value, bytes):
        # Raw, and decoded part by part: a quoted-printable soft line break could split it.
        return secret.encode() in value or any(secret in t for t in _texts(_parsed(value)))
    return secret in str(value)


def _deliver(db: Database, task: dict[str, Any], *replies: str) -> list[bytes]:
    with smtp_sink(*replies) as (sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        try:
            deliver_mail_job(db, mailer, compose, task, lease=LEASE)
        finally:
            mailer.close()
    return sink.received


def test_the_email_carries_a_link_whose_token_the_database_holds_only_as_a_hash(
    db: Database,
    tenant: Tenant,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given an application saved with "send credentials", its mail job on the queue
    task = _send_credentials(db, tenant, _an_application(db, tenant))

    # When the mail worker delivers it
    with capture_logs() as logs:
        [received] = _deliver(db, task)
    logged = repr(logs) + "".join(capsys.readouterr()) + caplog.text

    # Then the applicant gets a link with a token, and their email as the username
    token = _token_in(received)
    assert any(EMAIL in text for text in _texts(_parsed(received)))
    # ... the account exists, without a password
    with db.transaction() as session:
        account = session.scalars(select(CandidateAccount)).one()
        stored = session.scalars(select(SetPasswordToken)).one()
        email = session.scalars(select(OutboundEmail)).one()
    assert (account.username, account.password_hash) == (EMAIL, None)
    assert account.organisation_id == tenant.organisation_id
    # ... the database holds the token's SHA-256, valid for 72 hours, and nowhere the token
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored.expires_at - stored.created_at == timedelta(hours=72)
    assert (stored.used_at, stored.revoked_at) == (None, None)
    leaks = [(t, c) for t, c, v in every_value(db) if _holds(v, token)]
    assert leaks == []
    # ... the kept copy is the sent email with the token redacted, same Message-ID
    assert email.state == "sent"
    kept = _parsed(email.mime)
    assert kept["Message-ID"] == _parsed(received)["Message-ID"]
    assert all("/set-password?token=[redacted]" in text for text in _texts(kept))
    # ... and no log line carries it
    assert "credentials.link_issued" in logged and token not in logged


def test_a_second_credentials_email_revokes_the_first_link(db: Database, tenant: Tenant) -> None:
    # Given a credentials email that went out
    application_id = _an_application(db, tenant)
    [first] = _deliver(db, _send_credentials(db, tenant, application_id))

    # When the recruiter sends the credentials again
    [second] = _deliver(db, _send_credentials(db, tenant, application_id))

    # Then the new email has a new link, for the same account, and the first is revoked
    first_token, second_token = _token_in(first), _token_in(second)
    assert first_token != second_token
    with db.transaction() as session:
        tokens = {t.token_hash: t for t in session.scalars(select(SetPasswordToken))}
        accounts = session.scalars(select(CandidateAccount)).all()
    assert len(accounts) == 1
    old = tokens[hashlib.sha256(first_token.encode()).hexdigest()]
    new = tokens[hashlib.sha256(second_token.encode()).hexdigest()]
    assert old.revoked_at is not None
    assert (new.revoked_at, new.used_at) == (None, None)
    assert old.account_id == new.account_id


def test_a_redelivery_after_a_refused_send_mints_a_new_link_instead_of_the_redacted_copy(
    db: Database, tenant: Tenant
) -> None:
    # Given a credentials email whose first attempt the server refused for now
    task = _send_credentials(db, tenant, _an_application(db, tenant))
    with pytest.raises(TransientError):
        assert _deliver(db, task, "451 4.3.0 try again later") == []

    # When the message comes back (Dramatiq's retry)
    [received] = _deliver(db, task)

    # Then the email sent has a live link, not "[redacted]", and it is the only live one
    token = _token_in(received)
    with db.transaction() as session:
        live = session.scalars(
            select(SetPasswordToken).where(SetPasswordToken.revoked_at.is_(None))
        ).all()
        email = session.scalars(select(OutboundEmail)).one()
    assert [t.token_hash for t in live] == [hashlib.sha256(token.encode()).hexdigest()]
    assert (email.state, email.message_id_header) == ("sent", _parsed(received)["Message-ID"])


def test_a_duplicate_delivery_while_the_first_holds_the_email_sends_nothing(
    db: Database, tenant: Tenant
) -> None:
    # Given a delivery that composed the email and claimed it, its live link in memory
    task = _send_credentials(db, tenant, _an_application(db, tenant))
    claimed = jobs._claim_job_email(db, compose, JobMessage.model_validate(task), lease=LEASE)
    assert claimed is not None
    email, sender = claimed

    # When a duplicate of the message is delivered meanwhile, it sends nothing and comes
    # back once the first delivery's lease has run out (it is not acknowledged as done)
    with smtp_sink() as (duplicate_sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        with pytest.raises(RetryLater):
            deliver_mail_job(db, mailer, compose, task, lease=LEASE)
        mailer.close()
    assert duplicate_sink.received == []

    # Then the first delivery sends the one email, with the one live link
    with smtp_sink() as (sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        send(db, mailer, email, sender)
        mailer.close()
    [received] = sink.received
    token = _token_in(received)
    with db.transaction() as session:
        live = session.scalars(
            select(SetPasswordToken.token_hash).where(SetPasswordToken.revoked_at.is_(None))
        ).all()
        stored = session.scalars(select(OutboundEmail)).one()
    assert live == [hashlib.sha256(token.encode()).hexdigest()]
    assert (stored.state, stored.attempts) == ("sent", 1)
