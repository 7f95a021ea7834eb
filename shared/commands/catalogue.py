"""The union of every command, discriminated on ``type``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from shared.commands.applications import RegisterApplication, WithdrawApplication

AnyCommand = Annotated[RegisterApplication | WithdrawApplication, Field(discriminator="type")]
COMMAND_ADAPTER: TypeAdapter[AnyCommand] = TypeAdapter(AnyCommand)
