"""Events published on the topic exchange for subscribers (routing key = ``name``).

Events carry ids and statuses, never personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from shared.commands.base import Contract
from shared.errors import RefusalCode
from shared.ids import new_id
from shared.statuses import ApplicationStatus, CommandStatus


class Event(Contract):
    name: ClassVar[str]

    event_id: UUID = Field(default_factory=new_id)
    occurred_at: datetime
    organisation_id: UUID


class ApplicationStatusChanged(Event):
    name: ClassVar[str] = "application.status_changed"
    event: Literal["application.status_changed"] = "application.status_changed"

    application_id: UUID
    vacancy_id: UUID
    command_id: UUID
    from_status: ApplicationStatus | None
    to_status: ApplicationStatus
    version: int


class CommandCompleted(Event):
    name: ClassVar[str] = "command.completed"
    event: Literal["command.completed"] = "command.completed"

    command_id: UUID
    idempotency_key: str
    command_type: str
    status: CommandStatus
    code: RefusalCode | None = None
    message: str | None = None
    application_id: UUID | None = None


EVENT_TYPES: tuple[type[Event], ...] = (ApplicationStatusChanged, CommandCompleted)
