"""The AMQP ingress envelope and the message a worker receives."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, Self
from uuid import UUID

from pydantic import Field, model_validator

from shared.commands.base import ApplicationCommand, Command, Contract
from shared.commands.catalogue import STATUS_COMMANDS, AnyCommand
from shared.commands.fields import IdempotencyKey


class CommandEnvelope(Contract):
    """What an upstream system publishes on the command ingress queue.

    The organisation is not in the body: it comes from the AMQP ``user_id``
    property, which RabbitMQ checks against the connection's user.
    """

    schema_version: Literal[1] = 1
    idempotency_key: IdempotencyKey
    command: AnyCommand


MAX_BULK: Final = 1_000
# The commands one may send in bulk: those that act on an existing application (not
# registering one, not the panel review's), each without `application_id`: the bulk
# request's `application_ids` give it.
BULK_COMMANDS: Final[tuple[type[Command], ...]] = tuple(
    model for model in STATUS_COMMANDS if issubclass(model, ApplicationCommand)
)
BulkApplicationIds = Annotated[
    list[UUID],
    Field(
        min_length=1,
        max_length=MAX_BULK,
        description="Each application once.",
        json_schema_extra={"uniqueItems": True},
    ),
]


class BulkCommandEnvelope(Contract):
    """One recruiter action for many applications, published on the ingress queue.

    It fans out into one command per application, each with the derived key
    ``<idempotency_key>/<application_id>`` and its own outcome and ``command.completed``.
    """

    schema_version: Literal[1] = 1
    idempotency_key: IdempotencyKey
    application_ids: BulkApplicationIds
    command: dict[str, Any] = Field(
        description="A command as in a single envelope, without `application_id`: one"
        " that acts on an existing application (not `register_application`, not a panel"
        " review's); checked for every application.",
    )

    @model_validator(mode="after")
    def _each_once(self) -> Self:
        if len(set(self.application_ids)) != len(self.application_ids):
            raise ValueError("application_ids: each application may appear once")
        return self


class CommandMessage(Contract):
    """The body of a queue message for a worker: ids only, never personal data.

    The worker loads the command's fields from the ``commands`` table (claim check).
    """

    command_id: UUID
    organisation_id: UUID


class JobMessage(Contract):
    """The body of a ``mail`` or ``documents`` queue message: the scheduled job to carry
    out, ids only."""

    job_id: UUID
    organisation_id: UUID
