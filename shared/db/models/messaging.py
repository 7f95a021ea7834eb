"""Outbox, inbox and dead letters: the tables that make delivery reliable."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base
from shared.db.types import JSONDocument, UTCDateTime, utcnow
from shared.ids import new_id


class OutboxMessage(Base):
    """A message written in the same transaction as the change it announces.

    The relay publishes it after commit; its id is the AMQP message id.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_unpublished",
            "created_at",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID | None]
    kind: Mapped[str] = mapped_column(String(10))  # "task" (a worker queue) | "event"
    # A task's queue, or an event's name (the relay prefixes the organisation for the key).
    destination: Mapped[str] = mapped_column(String(120))
    actor_name: Mapped[str | None] = mapped_column(String(120))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class InboxEntry(Base):
    """A message a consumer has handled; inserted in the handler's own transaction."""

    __tablename__ = "inbox"

    consumer: Mapped[str] = mapped_column(String(60), primary_key=True)
    message_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryAttempt(Base):
    """A message RabbitMQ delivered again, counted each time a consumer starts on it, so
    that one that keeps killing its consumer is dead-lettered instead of delivered for
    ever. Written in autocommit, beside any transaction; the row goes when the message
    is settled."""

    __tablename__ = "delivery_attempts"

    consumer: Mapped[str] = mapped_column(String(60), primary_key=True)
    message_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    starts: Mapped[int] = mapped_column(default=1)
    last_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class DeadLetter(Base):
    """A message that could not be processed, with the reason; never dropped silently."""

    __tablename__ = "dead_letters"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    source: Mapped[str] = mapped_column(String(20))  # "ingress" | "worker"
    queue: Mapped[str] = mapped_column(String(120))
    actor_name: Mapped[str | None] = mapped_column(String(120))
    message_id: Mapped[str | None] = mapped_column(String(120))
    organisation_id: Mapped[UUID | None] = mapped_column(index=True)
    command_id: Mapped[UUID | None]
    reason: Mapped[str] = mapped_column(Text)
    # The message exactly as received: UTF-8 text, or base64 when it is not
    # valid UTF-8 or holds NUL (which PostgreSQL text cannot store).
    body: Mapped[str] = mapped_column(Text)
    body_encoding: Mapped[str] = mapped_column(String(10), default="utf-8")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
