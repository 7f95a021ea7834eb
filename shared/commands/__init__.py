"""Every command as one frozen pydantic model, and the union the API accepts."""

from __future__ import annotations

from shared.commands.applications import (
    DeleteApplication,
    ForwardCv,
    HireApplicant,
    InviteToInterview,
    NewApplicant,
    PurgeApplication,
    RecordOfferResponse,
    RegisterApplication,
    RejectApplication,
    RejectionEmail,
    RestoreApplication,
    SaveAndSendCredentials,
    SaveApplication,
    ScreeningAnswer,
    SendEmail,
    SendEmploymentContract,
    SendLetter,
    SendOffer,
    TransferApplication,
    UnrejectApplication,
    WithdrawApplication,
)
from shared.commands.base import ApplicationCommand, Command, Contract
from shared.commands.catalogue import COMMAND_ADAPTER, STATUS_COMMANDS, AnyCommand, command_type
from shared.commands.envelope import CommandEnvelope, CommandMessage, JobMessage

__all__ = [
    "COMMAND_ADAPTER",
    "STATUS_COMMANDS",
    "AnyCommand",
    "ApplicationCommand",
    "Command",
    "CommandEnvelope",
    "CommandMessage",
    "Contract",
    "DeleteApplication",
    "ForwardCv",
    "HireApplicant",
    "InviteToInterview",
    "JobMessage",
    "NewApplicant",
    "PurgeApplication",
    "RecordOfferResponse",
    "RegisterApplication",
    "RejectApplication",
    "RejectionEmail",
    "RestoreApplication",
    "SaveAndSendCredentials",
    "SaveApplication",
    "ScreeningAnswer",
    "SendEmail",
    "SendEmploymentContract",
    "SendLetter",
    "SendOffer",
    "TransferApplication",
    "UnrejectApplication",
    "WithdrawApplication",
    "command_type",
]
