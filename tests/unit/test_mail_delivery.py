"""Delivering one email over real SMTP (aiosmtpd on loopback), with the faults SMTP has."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.mail_worker.delivery import expire_leases, send
from services.mail_worker.mailer import SmtpMailer
from shared.db.database import Database
from shared.db.models import OutboundEmail, OutboxMessage
from shared.errors import TransientError
from shared.settings import Settings
from tests.conftest import Tenant
from tests.mailbox import claim, stored_email
from tests.smtp_sinks import smtp_sink

LEASE = timedelta(minutes=5)


def _state(db: Database, email_id: uuid.UUID) -> tuple[str, str | None, int]:
    with db.transaction() as session:
        email = session.get(OutboundEmail, email_id)
        assert email is not None
        return email.state, email.smtp_reply, email.attempts


def _told(db: Database) -> list[tuple[str, str, str | None]]:
    """The email events in the outbox: name, email id and, for email.failed, the state."""
    with db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.destination.like("email.%"))
            .order_by(OutboxMessage.id)
        ).all()
        assert all("ann@example.org" not in str(row.payload) for row in rows)
        return [(r.destination, r.payload["email_id"], r.payload.get("state")) for r in rows]


def _attempt(db: Database, mailer: SmtpMailer, email_id: uuid.UUID) -> None:
    email = claim(db, email_id, lease=LEASE)
    assert email is not None
    send(db, mailer, email, sender="hr@acme.example")


def test_a_451_is_retried_and_the_email_is_sent_once(db: Database, tenant: Tenant) -> None:
    email_id = stored_email(db, tenant.organisation_id)
    with smtp_sink("451 4.3.0 Try again later") as (sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        with pytest.raises(TransientError):
            _attempt(db, mailer, email_id)
        assert _state(db, email_id)[0] == "pending"
        _attempt(db, mailer, email_id)
        mailer.close()
    assert _state(db, email_id)[0:3:2] == ("sent", 2)
    assert len(sink.received) == 1
    assert _told(db) == [("email.sent", str(email_id), None)]  # the retry told nothing
    assert claim(db, email_id, lease=LEASE) is None  # done: nothing to claim


def test_a_550_fails_at_once_with_the_reply_recorded(db: Database, tenant: Tenant) -> None:
    email_id = stored_email(db, tenant.organisation_id)
    with smtp_sink("550 5.1.1 No such user") as (sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        _attempt(db, mailer, email_id)
        mailer.close()
    state, reply, attempts = _state(db, email_id)
    assert (state, attempts) == ("failed", 1)
    assert reply is not None and "550" in reply and "No such user" in reply
    assert sink.received == []
    assert _told(db) == [("email.failed", str(email_id), "failed")]


@pytest.mark.parametrize("purpose", ["credentials", "offer", "contract"])
def test_a_connection_dropped_after_data_never_duplicates_an_at_most_once_email(
    db: Database, tenant: Tenant, purpose: str
) -> None:
    email_id = stored_email(db, tenant.organisation_id, purpose)
    with smtp_sink("drop") as (sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        _attempt(db, mailer, email_id)
        assert claim(db, email_id, lease=LEASE) is None
        mailer.close()
    assert _state(db, email_id)[0] == "unknown"
    assert len(sink.received) == 1  # the server had it; we never send it again
    assert _told(db) == [("email.failed", str(email_id), "unknown")]


def test_a_connection_dropped_after_data_resends_other_emails_with_the_same_message_id(
    db: Database, tenant: Tenant
) -> None:
    email_id = stored_email(db, tenant.organisation_id, "receipt")
    with smtp_sink("drop") as (sink, port):
        mailer = SmtpMailer(Settings(smtp_port=port))
        with pytest.raises(TransientError):
            _attempt(db, mailer, email_id)
        _attempt(db, mailer, email_id)
        mailer.close()
    assert _state(db, email_id)[0] == "sent"
    ids = {m.split(b"Message-ID: ")[1].split(b"\r\n")[0] for m in sink.received}
    assert len(sink.received) == 2 and len(ids) == 1


def test_a_sender_that_died_mid_send_leaves_no_email_in_sending(
    db: Database, tenant: Tenant
) -> None:
    # Given two emails claimed by a worker that then died (its lease is over)
    offer, receipt = (
        stored_email(db, tenant.organisation_id, "offer"),
        stored_email(db, tenant.organisation_id, "receipt"),
    )
    for email_id in (offer, receipt):
        assert claim(db, email_id, lease=timedelta(seconds=-1)) is not None
    # When the leases are settled
    assert expire_leases(db) == 2
    # Then the offer is reported unknown and the receipt is sendable again
    assert _state(db, offer)[0] == "unknown"
    assert _state(db, receipt)[0] == "pending"
    assert _told(db) == [("email.failed", str(offer), "unknown")]


def test_a_worker_that_finds_an_at_most_once_email_abandoned_reports_it_unknown(
    db: Database, tenant: Tenant
) -> None:
    offer = stored_email(db, tenant.organisation_id, "offer")
    assert claim(db, offer, lease=timedelta(seconds=-1)) is not None  # then the worker died
    assert claim(db, offer, lease=LEASE) is None  # the next delivery settles it
    assert _state(db, offer)[0] == "unknown"
    assert _told(db) == [("email.failed", str(offer), "unknown")]
