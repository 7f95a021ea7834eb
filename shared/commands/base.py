"""What every command has in common."""

from __future__ import annotations

from uuid import UUID

from pydantic import ConfigDict, Field

from shared.commands.fields import Name, Version
from shared.storable_text import StorableTextModel


class Contract(StorableTextModel):
    """Base of every message model and request body: immutable, unknown fields are an
    error, and every text in it can be stored (see :mod:`shared.storable_text`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Command(Contract):
    actor: Name | None = Field(
        default=None, description="Who acted (a recruiter's user id or name), kept in the history."
    )

    @property
    def target_application_id(self) -> UUID | None:
        """The application this command acts on, when it already exists."""
        return None


class ApplicationCommand(Command):
    application_id: UUID
    expected_version: Version | None = Field(
        default=None,
        description="Refuse with `version_conflict` unless the application is at this version.",
    )

    @property
    def target_application_id(self) -> UUID | None:
        return self.application_id
