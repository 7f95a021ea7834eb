"""Recording an email's outcome, and its event, survives a database connection lost meanwhile."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import select

from services.mail_worker.delivery import send
from services.mail_worker.mailer import SmtpMailer
from shared.db.database import Database
from shared.db.models import OutboundEmail, OutboxMessage
from shared.settings import Settings
from tests.conftest import make_tenant
from tests.mailbox import claim, stored_email
from tests.smtp_sinks import smtp_sink

pytestmark = pytest.mark.integration


def test_an_email_sent_while_the_pool_lost_its_connections_is_still_recorded_sent(
    postgres_url: str,
) -> None:
    # Given a worker's database (no pre-ping, as the mail worker runs) and a claimed email
    db = Database(postgres_url, pool_size=2, pre_ping=False)
    try:
        organisation_id = make_tenant(db).organisation_id
        email_id = stored_email(db, organisation_id)
        email = claim(db, email_id, lease=timedelta(minutes=5))
        assert email is not None
        # And the server dropped every connection of the pool meanwhile (a restart)
        with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as admin:
            dropped = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert dropped is not None and dropped[0] >= 1

        # When the email is sent
        with smtp_sink() as (sink, port):
            mailer = SmtpMailer(Settings(smtp_port=port))
            send(db, mailer, email, sender="hr@acme.example")
            mailer.close()

        # Then it went out once and its row says so
        assert len(sink.received) == 1
        with db.transaction() as session:
            row = session.get(OutboundEmail, email_id)
            assert row is not None
            assert (row.state, row.attempts, row.lease_until) == ("sent", 1, None)
            # with its event written in the same statement, once (the session's database
            # also holds what other tests sent: only this organisation's events count)
            told = session.scalars(
                select(OutboxMessage.payload).where(
                    OutboxMessage.destination == "email.sent",
                    OutboxMessage.organisation_id == organisation_id,
                )
            ).all()
            assert [(e["email_id"], e["purpose"]) for e in told] == [(str(email_id), "receipt")]
    finally:
        db.dispose()
