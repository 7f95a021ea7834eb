"""The delivery state machine of one email: claim, send, record.

``pending`` -> ``sending`` (claimed and committed before the SMTP call, with a
lease) -> ``sent`` | ``failed`` | ``unknown``. For the purposes where a duplicate
would do harm (credentials, offers, contracts) an attempt whose outcome is
unknown is never retried: it becomes ``unknown`` and is reported. Other emails
are sent again, with the same Message-ID, so a duplicate can be recognised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final
from uuid import UUID

import structlog
from sqlalchemy import Table, and_, bindparam, func, update
from sqlalchemy.exc import DBAPIError

from services.mail_worker.mailer import (
    OutcomeUnknown,
    PermanentFailure,
    SmtpMailer,
    TemporaryFailure,
)
from shared.db.database import Database
from shared.db.driver_statements import run
from shared.db.models import OutboundEmail
from shared.db.types import utcnow
from shared.errors import TransientError

log = structlog.get_logger(__name__)

AT_MOST_ONCE: Final = frozenset({"credentials", "offer", "contract", "panel_review_invitation"})


@dataclass(frozen=True, slots=True)
class Sendable:
    """A claimed email: what sending it needs."""

    id: UUID
    purpose: str
    mime: bytes
    recipients: list[str]


def claim_locked(email: OutboundEmail, *, lease: timedelta) -> Sendable | None:
    """Claim ``email``, a row the caller's transaction has locked; None when it is done or
    another worker holds it. The caller commits before sending.

    A ``sending`` email whose lease expired was claimed by a worker that died; an
    at-most-once one is then ``unknown`` instead of claimable.
    """
    now = utcnow()
    expired = email.state == "sending" and email.lease_until is not None and email.lease_until < now
    if expired and email.purpose in AT_MOST_ONCE:
        _settle(email, "unknown", "the sender stopped during a send; not retried")
        log.error("email.outcome_unknown", email_id=str(email.id), purpose=email.purpose)
        return None
    if email.state != "pending" and not expired:
        return None
    email.state = "sending"
    email.attempts += 1
    email.lease_until = now + lease
    email.updated_at = now
    return Sendable(email.id, email.purpose, email.mime, _recipients(email))


def _recipients(email: OutboundEmail) -> list[str]:
    return list(email.envelope_recipients or [email.recipient])


def send(db: Database, mailer: SmtpMailer, email: Sendable, sender: str) -> None:
    """Send a claimed email and record what happened. Raises TransientError to retry."""
    try:
        reply = mailer.send(email.mime, sender=sender, recipients=email.recipients)
    except TemporaryFailure as exc:
        _record(db, email.id, "pending", str(exc))
        raise TransientError(f"email {email.id}: {exc}") from None
    except PermanentFailure as exc:
        _record(db, email.id, "failed", str(exc.reply))
        log.warning("email.failed", email_id=str(email.id), reply=str(exc.reply))
        return
    except OutcomeUnknown as exc:
        if email.purpose in AT_MOST_ONCE:
            _record(db, email.id, "unknown", str(exc))
            log.error("email.outcome_unknown", email_id=str(email.id), purpose=email.purpose)
            return
        _record(db, email.id, "pending", str(exc))
        raise TransientError(f"email {email.id}: {exc}") from None
    _record(db, email.id, "sent", str(reply))
    log.info("email.sent", email_id=str(email.id), purpose=email.purpose)


def _record(db: Database, email_id: UUID, state: str, reply: str) -> None:
    """Write the outcome of an attempt. A connection found lost is replaced and the write
    tried once more: the server has the message, and a retry of the job would find it
    claimed and leave it to lease expiry."""
    now = utcnow()
    params = {
        "email": email_id,
        "state": state,
        "reply": reply[:2000],
        "now": now,
        "sent_at": now if state == "sent" else None,
    }
    try:
        with db.single_statement() as connection:
            run(connection, _SETTLE, params)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("email.record_retried", email_id=str(email_id))
        with db.single_statement() as connection:
            run(connection, _SETTLE, params)


_emails: Table = OutboundEmail.__table__  # type: ignore[assignment]
# What _settle does to a loaded row, as one statement for a row nobody loaded.
_SETTLE: Final = (
    update(_emails)
    .where(_emails.c.id == bindparam("email"))
    .values(
        state=bindparam("state"),
        smtp_reply=bindparam("reply"),
        lease_until=None,
        updated_at=bindparam("now"),
        sent_at=func.coalesce(
            bindparam("sent_at", type_=_emails.c.sent_at.type), _emails.c.sent_at
        ),
    )
)


def _settle(email: OutboundEmail, state: str, reply: str) -> None:
    now = utcnow()
    email.state = state
    email.smtp_reply = reply[:2000]
    email.lease_until = None
    email.updated_at = now
    if state == "sent":
        email.sent_at = now


def expire_leases(db: Database) -> int:
    """Settle emails whose sender died mid-send: unknown (at-most-once) or pending again."""
    now = utcnow()
    stuck = and_(OutboundEmail.state == "sending", OutboundEmail.lease_until < now)
    with db.transaction() as session:
        unknown = session.scalars(
            update(OutboundEmail)
            .where(stuck, OutboundEmail.purpose.in_(AT_MOST_ONCE))
            .values(
                state="unknown",
                lease_until=None,
                updated_at=now,
                smtp_reply="the sender stopped during a send; not retried",
            )
            .returning(OutboundEmail.id)
        ).all()
        retried = session.scalars(
            update(OutboundEmail)
            .where(stuck, OutboundEmail.purpose.not_in(AT_MOST_ONCE))
            .values(state="pending", lease_until=None, updated_at=now)
            .returning(OutboundEmail.id)
        ).all()
    for email_id in unknown:
        log.error("email.outcome_unknown", email_id=str(email_id))
    return len(unknown) + len(retried)
