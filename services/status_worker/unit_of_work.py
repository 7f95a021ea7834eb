"""Running one command: inbox, handler, outcome and events, all in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeVar
from uuid import UUID

import structlog
from sqlalchemy import JSON, Table, bindparam, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from services.status_worker.claim import CommandRow, claim, lock_command
from shared.commands import COMMAND_ADAPTER, Command, CommandMessage
from shared.db.database import Database
from shared.db.deferred_writes import defer
from shared.db.models import Application, CommandRecord
from shared.db.types import utcnow
from shared.errors import PermanentError, RefusalCode, Refused
from shared.events import CommandCompleted
from shared.messaging.outbox import publish_event
from shared.statuses import CommandStatus

log = structlog.get_logger(__name__)

CONSUMER: Final = "status_worker"

C = TypeVar("C", bound=Command)


@dataclass(frozen=True, slots=True)
class CommandContext:
    """What a handler knows about the command it is running, besides its fields."""

    command_id: UUID
    organisation_id: UUID
    application_id: UUID | None
    actor: str | None
    now: datetime
    # Who sent it: "http", "amqp", "cli", or "retention" (the scheduler's policy sweep).
    source: str = "http"
    # The application the command names, when claiming the command locked it already.
    application: Application | None = None
    # Filled by a handler with what the command produced (ids of new rows).
    result: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Session, CommandContext, Any], None]


def run_command(db: Database, message: dict[str, Any], handler: Handler) -> None:
    """Apply ``handler`` to the command ``message`` names, exactly once.

    A duplicate delivery finds its inbox row and does nothing. A refusal is a
    ``rejected`` outcome in the same commit, never an exception that would retry.
    """
    try:
        ids = CommandMessage.model_validate(message)
    except ValueError as exc:
        raise PermanentError(f"malformed message: {exc}") from None

    with db.transaction() as session:
        claimed = claim(session, CONSUMER, ids.command_id, ids.organisation_id)
        if claimed is None:
            log.info("command.duplicate_skipped")
            return
        record = claimed.command
        try:
            command = COMMAND_ADAPTER.validate_json(record.payload)
        except ValueError as exc:
            raise PermanentError(f"stored command does not validate: {exc}") from None
        context = CommandContext(
            command_id=record.id,
            organisation_id=record.organisation_id,
            application_id=record.application_id,
            actor=command.actor,
            now=utcnow(),
            source=record.source,
            application=claimed.application,
        )
        try:
            handler(session, context, command)
        except Refused as refusal:
            _complete(session, record, CommandStatus.REJECTED, refusal.code, refusal.message)
            log.info("command.rejected", code=refusal.code, reason=refusal.message)
            return
        _complete(session, record, CommandStatus.SUCCEEDED, result=context.result or None)
        log.info("command.succeeded", command_type=record.type)


def fail_command(session: Session, command_id: UUID, organisation_id: UUID, reason: str) -> None:
    """Give a command that exhausted its retries, or failed permanently, its ``failed`` outcome."""
    record = lock_command(session, command_id, organisation_id)
    if record is None or record.status != CommandStatus.ACCEPTED:
        return
    _complete(session, record, CommandStatus.FAILED, None, reason)


_commands: Table = CommandRecord.__table__  # type: ignore[assignment]
# No result is SQL NULL, as an ORM attribute left unset would be, not JSON 'null'.
_NULLABLE_JSON: Final = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
_COMPLETE_COMMAND: Final = (
    update(_commands)
    .where(_commands.c.id == bindparam("command"))
    .values(
        status=bindparam("outcome"),
        outcome_code=bindparam("code"),
        outcome_message=bindparam("message"),
        result=bindparam("produced", type_=_NULLABLE_JSON),
        completed_at=bindparam("now"),
    )
)


def _complete(
    session: Session,
    record: CommandRow,
    status: CommandStatus,
    code: RefusalCode | None = None,
    message: str | None = None,
    *,
    result: dict[str, Any] | None = None,
) -> None:
    now = utcnow()
    defer(
        session,
        _COMPLETE_COMMAND,
        {
            "command": record.id,
            "outcome": status,
            "code": code,
            "message": message,
            "produced": result,
            "now": now,
        },
    )
    publish_event(
        session,
        CommandCompleted(
            occurred_at=now,
            organisation_id=record.organisation_id,
            command_id=record.id,
            idempotency_key=record.idempotency_key,
            command_type=record.type,
            status=status,
            code=code,
            message=message,
            application_id=record.application_id,
        ),
    )
