"""Driving commands through acceptance and the status worker's unit of work, in-process."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from services.command_api.acceptance import accept_command
from services.status_worker.handlers import HANDLERS
from services.status_worker.unit_of_work import run_command
from shared.commands import COMMAND_ADAPTER
from shared.db.database import Database
from shared.db.models import CommandRecord, OutboxMessage
from shared.messaging.outbox import TASK

__all__ = ["HANDLERS", "accept", "run", "task_message"]


def accept(db: Database, organisation_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    """Accept a command as the API would; returns the 202 body."""
    with db.transaction() as session:
        return accept_command(
            session,
            organisation_id=organisation_id,
            idempotency_key=f"test-{uuid.uuid4()}",
            command=COMMAND_ADAPTER.validate_python(body),
            source="http",
            retention=timedelta(hours=48),
        ).body


def task_message(db: Database, command_id: str) -> dict[str, Any]:
    """The worker message the outbox holds for a command."""
    with db.transaction() as session:
        rows = session.query(OutboxMessage).filter(OutboxMessage.kind == TASK).all()
        for row in rows:
            if row.payload.get("command_id") == command_id:
                return dict(row.payload)
    raise LookupError(command_id)


def run(db: Database, organisation_id: uuid.UUID, body: dict[str, Any]) -> CommandRecord:
    """Accept a command and run it through the status worker's unit of work."""
    accepted = accept(db, organisation_id, body)
    run_command(db, task_message(db, accepted["command_id"]), HANDLERS[body["type"]])
    with db.transaction() as session:
        record = session.get(CommandRecord, uuid.UUID(accepted["command_id"]))
        assert record is not None
        session.expunge(record)
        return record
