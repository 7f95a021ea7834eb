"""Every command as one frozen pydantic model, and the union the API accepts."""

from __future__ import annotations

from shared.commands.applications import (
    NewApplicant,
    RegisterApplication,
    ScreeningAnswer,
    WithdrawApplication,
)
from shared.commands.base import ApplicationCommand, Command, Contract
from shared.commands.catalogue import COMMAND_ADAPTER, AnyCommand
from shared.commands.envelope import CommandEnvelope, CommandMessage

__all__ = [
    "COMMAND_ADAPTER",
    "AnyCommand",
    "ApplicationCommand",
    "Command",
    "CommandEnvelope",
    "CommandMessage",
    "Contract",
    "NewApplicant",
    "RegisterApplication",
    "ScreeningAnswer",
    "WithdrawApplication",
]
