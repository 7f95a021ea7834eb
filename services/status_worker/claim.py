"""Claiming a command for this delivery: inbox row, command row lock, application lock.

Every command starts the same way: record the delivery in the inbox (a duplicate
stops there), lock the command row, and lock the application it acts on. On
PostgreSQL that is one statement and one round trip; elsewhere it is three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, TypeAlias
from uuid import UUID

from sqlalchemy import Select, Table, Text, bindparam, cast, exists, select, true
from sqlalchemy.orm import Session

from shared.db.deferred_writes import update_at_commit
from shared.db.driver_statements import run
from shared.db.loaded_rows import attach
from shared.db.models import Application, CommandRecord
from shared.errors import PermanentError
from shared.messaging.inbox import INSERT_IF_ABSENT, first_delivery

# An SQLAlchemy Row, or a named tuple from the driver path: read by attribute.
CommandRow: TypeAlias = Any


@dataclass(frozen=True, slots=True)
class Claim:
    command: CommandRow
    # The application the command names, locked, when it came with the command row.
    application: Application | None


def claim(session: Session, consumer: str, command_id: UUID, organisation_id: UUID) -> Claim | None:
    """Lock the command for ``consumer``; None when this delivery is a duplicate.

    Raises PermanentError when the command does not exist for the organisation.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        if not first_delivery(session, consumer, str(command_id)):
            return None
        return Claim(_require(lock_command(session, command_id, organisation_id), command_id), None)
    params = {
        "consumer_name": consumer,
        "key": str(command_id),
        "command": command_id,
        "org": organisation_id,
    }
    row = _require(next(iter(run(connection, _CLAIM, params)), None), command_id)
    if not row.first_delivery:
        return None
    return Claim(row, _attach_application(session, row))


def lock_command(session: Session, command_id: UUID, organisation_id: UUID) -> CommandRow | None:
    """The command row, locked; None when it does not exist for the organisation."""
    return (
        session.connection()
        .execute(_LOCK_COMMAND, {"command": command_id, "org": organisation_id})
        .first()
    )


def _require(row: CommandRow | None, command_id: UUID) -> CommandRow:
    if row is None:
        raise PermanentError(f"command {command_id} not found for its organisation")
    return row


def _attach_application(session: Session, row: CommandRow) -> Application | None:
    """The locked application in ``row`` as a persistent, unmodified ORM object."""
    application = attach(session, Application, row, _APPLICATION_PREFIX)
    if application is not None:
        update_at_commit(session, application)  # with the deferred writes: no flush for it
    return application


_commands: Table = CommandRecord.__table__  # type: ignore[assignment]
_applications: Table = Application.__table__  # type: ignore[assignment]
_COMMAND_COLUMNS: Final = (
    _commands.c.id,
    _commands.c.organisation_id,
    _commands.c.type,
    _commands.c.idempotency_key,
    _commands.c.source,
    _commands.c.application_id,
    # As its JSON text: pydantic parses and validates it in one go (validate_json).
    cast(_commands.c.payload, Text).label("payload"),
    _commands.c.status,
)
_THIS_COMMAND: Final = (
    _commands.c.id == bindparam("command"),
    _commands.c.organisation_id == bindparam("org"),
)
_LOCK_COMMAND: Final = select(*_COMMAND_COLUMNS).where(*_THIS_COMMAND).with_for_update()

_APPLICATION_PREFIX: Final = "application__"


def _claim_statement() -> Select[Any]:
    # WITH fresh AS (INSERT INTO inbox ... ON CONFLICT DO NOTHING RETURNING ...)
    # SELECT EXISTS (SELECT FROM fresh), commands.*, application.*
    # FROM commands LEFT JOIN LATERAL (SELECT ... FROM applications WHERE id =
    #   commands.application_id AND organisation_id = commands.organisation_id
    #   FOR UPDATE) AS application ON true
    # WHERE commands.id = :command AND commands.organisation_id = :org
    # FOR UPDATE OF commands
    fresh = INSERT_IF_ABSENT["postgresql"].cte("fresh")
    application = (
        select(_applications)
        .where(
            _applications.c.id == _commands.c.application_id,
            _applications.c.organisation_id == _commands.c.organisation_id,
        )
        .with_for_update()
        .lateral("application")
    )
    return (
        select(
            exists(select(fresh)).label("first_delivery"),
            *_COMMAND_COLUMNS,
            *(c.label(_APPLICATION_PREFIX + c.key) for c in application.c),
        )
        .select_from(_commands.outerjoin(application, true()))
        .where(*_THIS_COMMAND)
        .with_for_update(of=_commands)
    )


_CLAIM: Final = _claim_statement()
