"""The union of every command, discriminated on ``type``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from shared.commands.applications import (
    DeleteApplication,
    ForwardCv,
    HireApplicant,
    InviteToInterview,
    PurgeApplication,
    RecordOfferResponse,
    RegisterApplication,
    RejectApplication,
    RestoreApplication,
    SaveAndSendCredentials,
    SaveApplication,
    SendEmail,
    SendEmploymentContract,
    SendLetter,
    SendOffer,
    TransferApplication,
    UnrejectApplication,
    WithdrawApplication,
)
from shared.commands.reviews import (
    ClosePanelReview,
    RequestPanelReview,
    ResendPanelReviewLink,
    RevokePanelReviewer,
)

STATUS_COMMANDS = (
    RegisterApplication,
    WithdrawApplication,
    DeleteApplication,
    RestoreApplication,
    PurgeApplication,
    InviteToInterview,
    RejectApplication,
    UnrejectApplication,
    SaveApplication,
    SaveAndSendCredentials,
    TransferApplication,
    SendOffer,
    RecordOfferResponse,
    HireApplicant,
    SendEmail,
    ForwardCv,
    SendLetter,
    SendEmploymentContract,
    RequestPanelReview,
    RevokePanelReviewer,
    ResendPanelReviewLink,
    ClosePanelReview,
)

AnyCommand = Annotated[
    RegisterApplication
    | WithdrawApplication
    | DeleteApplication
    | RestoreApplication
    | PurgeApplication
    | InviteToInterview
    | RejectApplication
    | UnrejectApplication
    | SaveApplication
    | SaveAndSendCredentials
    | TransferApplication
    | SendOffer
    | RecordOfferResponse
    | HireApplicant
    | SendEmail
    | ForwardCv
    | SendLetter
    | SendEmploymentContract
    | RequestPanelReview
    | RevokePanelReviewer
    | ResendPanelReviewLink
    | ClosePanelReview,
    Field(discriminator="type"),
]
COMMAND_ADAPTER: TypeAdapter[AnyCommand] = TypeAdapter(AnyCommand)


def command_type(model: type) -> str:
    """The ``type`` literal of a command model."""
    return str(model.model_fields["type"].default)  # type: ignore[attr-defined]
