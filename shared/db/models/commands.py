"""Accepted commands with their outcome, and stored idempotent responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base
from shared.db.types import JSONDocument, UTCDateTime, utcnow
from shared.ids import new_id

# A stored key: the client's (at most 255 characters) or, for each command of a bulk
# request, the one derived from it, ``<key>/<application id>`` (255 + 1 + 36).
STORED_KEY_LENGTH = 292


class CommandRecord(Base):
    __tablename__ = "commands"
    __table_args__ = (Index("ix_commands_by_key", "organisation_id", "idempotency_key"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"))
    type: Mapped[str] = mapped_column(String(60))
    idempotency_key: Mapped[str] = mapped_column(String(STORED_KEY_LENGTH))
    source: Mapped[str] = mapped_column(String(10))  # "http" | "amqp" | "cli" | "retention"
    application_id: Mapped[UUID | None] = mapped_column(index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(String(20))
    outcome_code: Mapped[str | None] = mapped_column(String(40))
    outcome_message: Mapped[str | None] = mapped_column(Text)
    # What a succeeded command produced, e.g. {"new_application_id": ...} for a transfer.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyRecord(Base):
    """The first response to an ``Idempotency-Key``, replayed for the same request.

    Keys are scoped per organisation and kept ``idempotency_retention_hours``.
    Responses hold ids only, except a CV upload's, which names the file (its name, size
    and SHA-256): purging the application erases that one with the CV.
    """

    __tablename__ = "idempotency_records"

    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(STORED_KEY_LENGTH), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int]
    response_body: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class CommandRefusal(Base):
    """An envelope the AMQP ingress refused for an organisation, so that its publisher can
    find it by key (``GET /v1/commands?idempotency_key=``) and hear ``command.refused``.

    Written in the dead letter's transaction (or the bulk's, for a derived key refused in
    it); no envelope body, only the code and field errors. Kept as long as idempotency keys.
    """

    __tablename__ = "command_refusals"
    __table_args__ = (Index("ix_command_refusals_by_key", "organisation_id", "idempotency_key"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(STORED_KEY_LENGTH))
    code: Mapped[str] = mapped_column(String(40))
    errors: Mapped[list[dict[str, str]]] = mapped_column(JSONDocument)
    source: Mapped[str] = mapped_column(String(10))  # "amqp"
    message_id: Mapped[str | None] = mapped_column(String(255))
    dead_letter_id: Mapped[UUID | None]
    refused_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
