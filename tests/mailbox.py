"""Delivering the due mail jobs of a test to a real SMTP sink, and reading what arrived."""

from __future__ import annotations

import tempfile
import uuid
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from services.mail_worker.composition import composer
from services.mail_worker.delivery import Sendable, claim_locked
from services.mail_worker.jobs import deliver_mail_job
from services.mail_worker.mailer import SmtpMailer
from shared.db.database import Database
from shared.db.models import OutboundEmail, OutboxMessage
from shared.documents.storage import DocumentStorage, LocalDirectoryStorage
from shared.messaging.scheduler import enqueue_due_jobs
from shared.settings import Settings
from tests.smtp_sinks import Sink, smtp_sink

LEASE = timedelta(minutes=5)
# Mail that attaches nothing reads no document: such tests share an empty store.
NO_DOCUMENTS: DocumentStorage = LocalDirectoryStorage(
    Path(tempfile.gettempdir()) / "werving-tests-no-documents"
)
compose = composer(NO_DOCUMENTS)


def mail_tasks(db: Database) -> list[dict[str, Any]]:
    """The mail queue's messages the relay would publish (ids only)."""
    with db.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage.payload).where(OutboxMessage.destination == "mail")
            )
        )


def deliver_due_mail(
    db: Database, *replies: str, documents: DocumentStorage = NO_DOCUMENTS
) -> Sink:
    """Enqueue what is due and deliver every mail task once; ``replies`` script the server,
    ``documents`` holds what the emails attach."""
    enqueue_due_jobs(db)
    with smtp_sink(*replies) as (sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        for task in mail_tasks(db):
            deliver_mail_job(db, mailer, composer(documents), task, lease=LEASE)
        mailer.close()
    return sink


def parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def stored_email(db: Database, organisation_id: uuid.UUID, purpose: str = "receipt") -> uuid.UUID:
    """A composed email waiting to be sent (``pending``), as the mail worker stores one."""
    message = EmailMessage()
    message["From"] = "hr@acme.example"
    message["To"] = "ann@example.org"
    message["Subject"] = "Your application"
    message["Message-ID"] = make_msgid(domain="acme.example")
    message.set_content("We received your application.")
    with db.transaction() as session:
        email = OutboundEmail(
            organisation_id=organisation_id,
            purpose=purpose,
            sender="hr@acme.example",
            recipient="ann@example.org",
            message_id_header=message["Message-ID"],
            mime=message.as_bytes(),
        )
        session.add(email)
        session.flush()
        return email.id


def claim(db: Database, email_id: uuid.UUID, *, lease: timedelta) -> Sendable | None:
    """Claim a stored email as a delivery does (``delivery.claim_locked`` in a transaction
    of its own): the email to send, or None when it is done or held."""
    with db.transaction() as session:
        email = session.scalar(
            select(OutboundEmail).where(OutboundEmail.id == email_id).with_for_update()
        )
        return None if email is None else claim_locked(email, lease=lease)
