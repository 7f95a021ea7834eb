"""Vacancies, applicants, applications and each application's history."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base
from shared.db.types import JSONDocument, UTCDateTime, utcnow
from shared.ids import new_id


class Vacancy(Base):
    __tablename__ = "vacancies"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[UUID | None] = mapped_column(ForeignKey("departments.id"))
    position_id: Mapped[UUID | None] = mapped_column(ForeignKey("positions.id"))
    is_open: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Applicant(Base):
    __tablename__ = "applicants"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    locale: Mapped[str | None] = mapped_column(String(2))
    cv_document_id: Mapped[UUID | None]
    in_talent_pool: Mapped[bool] = mapped_column(default=False)
    # False once hired: an employee is no longer a candidate.
    is_candidate: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Application(Base):
    """An applicant's application for one vacancy; its status is for that vacancy only."""

    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("vacancy_id", "applicant_id"),
        Index("ix_applications_by_vacancy_status", "organisation_id", "vacancy_id", "status"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"))
    vacancy_id: Mapped[UUID] = mapped_column(ForeignKey("vacancies.id"))
    applicant_id: Mapped[UUID] = mapped_column(ForeignKey("applicants.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    status_before: Mapped[str | None] = mapped_column(String(20))
    application_text: Mapped[str | None] = mapped_column(Text)
    screening_answers: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    cv_document_id: Mapped[UUID | None]
    rejection_type: Mapped[str | None] = mapped_column(String(20))
    rejection_reason_id: Mapped[UUID | None] = mapped_column(ForeignKey("rejection_reasons.id"))
    rejection_note: Mapped[str | None] = mapped_column(Text)
    transferred_from_id: Mapped[UUID | None]
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApplicationEvent(Base):
    """Append-only history: who did what to an application, when, from and to which status."""

    __tablename__ = "application_events"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"))
    # No foreign key: the history outlives a purged application (as a PII-free record).
    application_id: Mapped[UUID] = mapped_column(index=True)
    command_id: Mapped[UUID | None] = mapped_column(ForeignKey("commands.id"))
    event_type: Mapped[str] = mapped_column(String(60))
    actor: Mapped[str | None] = mapped_column(String(200))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
