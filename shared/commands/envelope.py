"""The AMQP ingress envelope and the message a worker receives."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from shared.commands.base import Contract
from shared.commands.catalogue import AnyCommand
from shared.commands.fields import IdempotencyKey


class CommandEnvelope(Contract):
    """What an upstream system publishes on the command ingress queue.

    The organisation is not in the body: it comes from the AMQP ``user_id``
    property, which RabbitMQ checks against the connection's user.
    """

    schema_version: Literal[1] = 1
    idempotency_key: IdempotencyKey
    command: AnyCommand


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
