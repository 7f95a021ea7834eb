"""The delivery state machine of one email: claim, send, record.

``pending`` -> ``sending`` (claimed and committed before the SMTP call, with a
lease) -> ``sent`` | ``failed`` | ``unknown``; an email that cannot be composed (its
template fails) is ``failed`` at once, without an attempt. For the purposes where a duplicate
would do harm (credentials, offers, contracts) an attempt whose outcome is
unknown is never retried: it becomes ``unknown`` and is reported. Other emails
are sent again, with the same Message-ID, so a duplicate can be recognised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final, Protocol
from uuid import UUID

import structlog
from sqlalchemy import Table, bindparam, func, insert, literal, select, update
from sqlalchemy.orm import Session, object_session

from services.mail_worker.mailer import (
    OutcomeUnknown,
    PermanentFailure,
    ServerUnreachable,
    SmtpMailer,
    TemporaryFailure,
)
from shared.db.availability import retried_while_unavailable
from shared.db.database import Database
from shared.db.driver_statements import run
from shared.db.models import OutboundEmail, OutboxMessage, ScheduledJob
from shared.db.types import JSONText, utcnow
from shared.errors import TransientError, UnavailableError
from shared.events import EmailFailed, EmailSent
from shared.ids import new_id
from shared.messaging.outbox import EVENT, publish_event

log = structlog.get_logger(__name__)

AT_MOST_ONCE: Final = frozenset({"credentials", "offer", "contract", "panel_review_invitation"})


@dataclass(frozen=True, slots=True)
class Sendable:
    """A claimed email: what sending it needs."""

    id: UUID
    purpose: str
    mime: bytes
    recipients: list[str]
    organisation_id: UUID
    application_id: UUID | None


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
        session = object_session(email)
        assert session is not None, "claim_locked takes a row its caller's session loaded"
        publish_event(session, told(email, "unknown", now))
        log.error("email.outcome_unknown", email_id=str(email.id), purpose=email.purpose)
        return None
    if email.state != "pending" and not expired:
        return None
    email.state = "sending"
    email.attempts += 1
    email.lease_until = now + lease
    email.updated_at = now
    return Sendable(
        email.id,
        email.purpose,
        email.mime,
        _recipients(email),
        email.organisation_id,
        email.application_id,
    )


def _recipients(email: OutboundEmail) -> list[str]:
    return list(email.envelope_recipients or [email.recipient])


def record_unsendable(
    session: Session, job: ScheduledJob, *, reason: str, sender: str, recipients: Sequence[str]
) -> UUID | None:
    """Settle ``job``'s email as ``failed`` before any attempt: it could not be composed
    (``reason``, e.g. ``template_error: ...``), and a retry cannot change that. Writes
    the row (or settles a ``pending`` one composed before) and its ``email.failed`` event
    in the caller's transaction, which holds the job's lock. None when the job's email
    was settled meanwhile."""
    now = utcnow()
    email = session.scalar(
        select(OutboundEmail).where(OutboundEmail.job_id == job.id).with_for_update()
    )
    if email is None:
        email = OutboundEmail(
            id=new_id(),
            organisation_id=job.organisation_id,
            application_id=job.application_id,
            job_id=job.id,
            command_id=job.command_id,
            purpose=job.purpose,
            sender=sender,
            recipient=recipients[0] if recipients else "",
            envelope_recipients=list(recipients),
            message_id_header="",  # no message was made
            mime=b"",
            attempts=0,
            created_at=now,
        )
        session.add(email)
    elif email.state != "pending":
        return None
    _settle(email, "failed", reason)
    session.flush()
    publish_event(session, told(email, "failed", now))
    return email.id


def send(db: Database, mailer: SmtpMailer, email: Sendable, sender: str) -> None:
    """Send a claimed email and record what happened. Raises TransientError to retry."""
    try:
        reply = mailer.send(email.mime, sender=sender, recipients=email.recipients)
    except ServerUnreachable as exc:  # retried for as long as the server is away
        _record(db, email, "pending", str(exc))
        raise UnavailableError(f"email {email.id}: {exc}") from None
    except TemporaryFailure as exc:
        _record(db, email, "pending", str(exc))
        raise TransientError(f"email {email.id}: {exc}") from None
    except PermanentFailure as exc:
        _record(db, email, "failed", str(exc.reply))
        log.warning("email.failed", email_id=str(email.id), reply=str(exc.reply))
        return
    except OutcomeUnknown as exc:
        if email.purpose in AT_MOST_ONCE:
            _record(db, email, "unknown", str(exc))
            log.error("email.outcome_unknown", email_id=str(email.id), purpose=email.purpose)
            return
        _record(db, email, "pending", str(exc))
        raise TransientError(f"email {email.id}: {exc}") from None
    _record(db, email, "sent", str(reply))
    log.info("email.sent", email_id=str(email.id), purpose=email.purpose)


def _record(db: Database, email: Sendable, state: str, reply: str) -> None:
    """Write the outcome of an attempt, and for a final one its event, atomically. A
    connection found lost is replaced and the write tried again, and again while the
    database is away (about 15 s): the server may have the message, and a retry of the
    job would find it claimed, wait for its lease to run out and send it once more."""
    now = utcnow()
    params: dict[str, Any] = {
        "email": email.id,
        "state": state,
        "reply": reply[:2000],
        "now": now,
        "sent_at": now if state == "sent" else None,
    }
    if state != "pending":
        event = told(email, state, now)
        params |= {
            "event_id": event.event_id,
            "org": email.organisation_id,
            "name": event.name,
            "payload": JSONText(event.model_dump_json()),
        }
    retried_while_unavailable(partial(_write_outcome, db, params), what="email outcome")


def _write_outcome(db: Database, params: dict[str, Any]) -> None:
    with db.single_statement() as connection:
        if "event_id" not in params:
            run(connection, _SETTLE, params)
        elif connection.dialect.name == "postgresql":
            run(connection, _SETTLE_AND_TELL, params)  # one statement, so one autocommit
        else:  # SQLite: single_statement is a transaction there
            run(connection, _SETTLE, params)
            connection.execute(_TELL, params)


class _AnEmail(Protocol):
    """What an email's event needs of it: a Sendable, a loaded row or a returned one."""

    @property
    def id(self) -> UUID: ...
    @property
    def organisation_id(self) -> UUID: ...
    @property
    def application_id(self) -> UUID | None: ...
    @property
    def purpose(self) -> str: ...


def told(email: _AnEmail, state: str, now: datetime) -> EmailSent | EmailFailed:
    """The event that says how ``email`` ended."""
    about = {
        "occurred_at": now,
        "organisation_id": email.organisation_id,
        "email_id": email.id,
        "application_id": email.application_id,
        "purpose": email.purpose,
    }
    if state == "sent":
        return EmailSent(**about)
    return EmailFailed(**about, state=state)


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


_outbox: Table = OutboxMessage.__table__  # type: ignore[assignment]
# The email's event as an outbox row, written only when the settling UPDATE matched.
_EVENT_ROW: Final = select(
    bindparam("event_id", type_=_outbox.c.id.type),
    bindparam("org", type_=_outbox.c.organisation_id.type),
    literal(EVENT),
    bindparam("name", type_=_outbox.c.destination.type),
    bindparam("payload", type_=_outbox.c.payload.type),
    bindparam("now", type_=_outbox.c.created_at.type),
    literal(0),
)
_EVENT_COLUMNS: Final = (
    "id",
    "organisation_id",
    "kind",
    "destination",
    "payload",
    "created_at",
    "attempts",
)
_SETTLE_AND_TELL: Final = insert(_outbox).from_select(
    _EVENT_COLUMNS, _EVENT_ROW.select_from(_SETTLE.returning(_emails.c.id).cte("settled"))
)
# Where an UPDATE cannot be a CTE (SQLite), the same row after _SETTLE in one transaction.
_TELL: Final = insert(_outbox).from_select(_EVENT_COLUMNS, _EVENT_ROW)


def _settle(email: OutboundEmail, state: str, reply: str) -> None:
    now = utcnow()
    email.state = state
    email.smtp_reply = reply[:2000]
    email.lease_until = None
    email.updated_at = now
    if state == "sent":
        email.sent_at = now
