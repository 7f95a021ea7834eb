"""What happens along an application: interviews, offers, hiring, and jobs due later."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base
from shared.db.types import JSONDocument, UTCDateTime, utcnow
from shared.ids import new_id


class Interview(Base):
    __tablename__ = "interviews"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"))
    application_id: Mapped[UUID] = mapped_column(ForeignKey("applications.id"), index=True)
    command_id: Mapped[UUID | None]
    interview_type: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int]
    location: Mapped[str | None] = mapped_column(String(500))
    video_link: Mapped[str | None] = mapped_column(String(2000))
    interviewers: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")  # scheduled | cancelled
    # The applicant's answer through the link in the invitation: confirmed | declined.
    response: Mapped[str | None] = mapped_column(String(20))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Offer(Base):
    """One version of an offer; a new version supersedes the open one."""

    __tablename__ = "offers"
    __table_args__ = (UniqueConstraint("application_id", "version"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"))
    application_id: Mapped[UUID] = mapped_column(ForeignKey("applications.id"))
    command_id: Mapped[UUID | None]
    version: Mapped[int]
    salary_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    salary_currency: Mapped[str] = mapped_column(String(3))
    salary_period: Mapped[str] = mapped_column(String(10))
    start_date: Mapped[date]
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message: Mapped[str | None] = mapped_column(Text)
    # open | superseded | accepted | declined
    status: Mapped[str] = mapped_column(String(20), default="open")
    response_reason: Mapped[str | None] = mapped_column(String(500))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Employee(Base):
    """A hired applicant, in a position and a department. One per applicant."""

    __tablename__ = "employees"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    applicant_id: Mapped[UUID] = mapped_column(ForeignKey("applicants.id"), unique=True)
    application_id: Mapped[UUID] = mapped_column(ForeignKey("applications.id"))
    position_id: Mapped[UUID] = mapped_column(ForeignKey("positions.id"))
    department_id: Mapped[UUID] = mapped_column(ForeignKey("departments.id"))
    start_date: Mapped[date]
    end_date: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScheduledJob(Base):
    """Work for another worker that falls due at ``due_at`` (emails, for now).

    Long waits live here, not as Dramatiq delays: RabbitMQ closes a channel whose
    delivery stays unacked for 30 minutes. The scheduler enqueues due jobs through
    the outbox; a pending job can be cancelled until then. Payloads hold ids only.
    """

    __tablename__ = "scheduled_jobs"
    __table_args__ = (
        Index(
            "ix_scheduled_jobs_due",
            "due_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        # Enqueued jobs by age: `werving queues` looks for those whose work never came.
        Index(
            "ix_scheduled_jobs_enqueued",
            "enqueued_at",
            postgresql_where=text("status = 'enqueued'"),
            sqlite_where=text("status = 'enqueued'"),
        ),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"))
    application_id: Mapped[UUID | None] = mapped_column(index=True)
    command_id: Mapped[UUID | None]
    kind: Mapped[str] = mapped_column(String(20))  # "mail"
    purpose: Mapped[str] = mapped_column(String(40))  # receipt | rejection | offer | ...
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(
        String(20), default="pending"
    )  # pending | enqueued | cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
