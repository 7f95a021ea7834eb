"""Outgoing emails and their delivery state."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base
from shared.db.types import JSONDocument, UTCDateTime, utcnow
from shared.ids import new_id

UNSETTLED_WHERE = "state IN ('pending', 'sending', 'unknown')"


class OutboundEmail(Base):
    """One email: ``pending`` -> ``sending`` -> ``sent`` | ``failed`` | ``unknown``.

    The message is rendered once, with its Message-ID, before the first attempt, so
    that a resend is byte for byte the same email. ``sending`` is claimed (and
    committed) before the SMTP call, with a lease; a crash inside the call is found
    when the lease expires.
    """

    __tablename__ = "outbound_emails"
    __table_args__ = (
        # The emails that still need something (sent again, settled, a person): what the
        # scheduler's recovery and `werving queues` read every time, never the settled rest.
        Index(
            "ix_outbound_emails_unsettled",
            "state",
            "updated_at",
            postgresql_where=text(UNSETTLED_WHERE),
            sqlite_where=text(UNSETTLED_WHERE),
        ),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    application_id: Mapped[UUID | None] = mapped_column(index=True)
    job_id: Mapped[UUID | None] = mapped_column(unique=True)
    command_id: Mapped[UUID | None]
    purpose: Mapped[str] = mapped_column(String(40))
    sender: Mapped[str] = mapped_column(String(254))  # the envelope sender
    recipient: Mapped[str] = mapped_column(String(254))  # the primary one, for reading
    # Everyone the envelope goes to (To, Cc and Bcc); Bcc never appears in the headers.
    envelope_recipients: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    message_id_header: Mapped[str] = mapped_column(String(300))
    mime: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    smtp_reply: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EmailTemplate(Base):
    """An organisation's own version of a built-in email, for one purpose and locale."""

    __tablename__ = "email_templates"
    __table_args__ = (UniqueConstraint("organisation_id", "purpose", "locale"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"))
    purpose: Mapped[str] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
