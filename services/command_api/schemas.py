"""What the HTTP API answers with."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.commands.fields import Name
from shared.errors import RefusalCode
from shared.statuses import ApplicationStatus, CommandStatus


class CommandAccepted(BaseModel):
    command_id: UUID
    type: str
    status: CommandStatus
    application_id: UUID | None
    location: str


class CommandView(BaseModel):
    command_id: UUID
    type: str
    status: CommandStatus
    code: RefusalCode | None
    message: str | None
    application_id: UUID | None
    idempotency_key: str
    source: Literal["http", "amqp"]
    created_at: datetime
    completed_at: datetime | None


class HistoryEntry(BaseModel):
    event_type: str
    actor: str | None
    from_status: ApplicationStatus | None
    to_status: ApplicationStatus | None
    reason: str | None
    note: str | None
    command_id: UUID | None
    occurred_at: datetime


class ApplicationView(BaseModel):
    id: UUID
    vacancy_id: UUID
    applicant_id: UUID
    status: ApplicationStatus
    status_before: ApplicationStatus | None
    version: int
    deleted: bool
    created_at: datetime
    updated_at: datetime
    history: list[HistoryEntry]


class VacancyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Name


class VacancyView(BaseModel):
    id: UUID
    title: str
    status: Literal["open", "closed"]
    created_at: datetime
    closed_at: datetime | None


class VacancyList(BaseModel):
    items: list[VacancyView]
