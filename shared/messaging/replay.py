"""Replaying a dead letter: its worker message goes back to its queue through the outbox.

Only what a worker gave up on can be replayed: the message it failed on holds ids
only and names a known actor. A command that ended ``failed`` because of it is
reopened (``accepted`` again, its outcome cleared) in the same transaction, so the
worker's claim runs it as a first delivery and gives it a fresh outcome, with its
own ``command.completed`` event. A letter from the ingress was never accepted: it is
corrected and published again upstream, not replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from dramatiq.common import q_name
from pydantic import ValidationError
from pydantic_core import from_json
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.commands import CommandMessage, JobMessage
from shared.db.models import CommandRecord, DeadLetter
from shared.db.types import utcnow
from shared.messaging.dead_letters import ERASED_BODY
from shared.messaging.outbox import enqueue_task
from shared.messaging.routes import DOCUMENT_JOB_ROUTE, MAIL_JOB_ROUTE, ROUTES, Route
from shared.statuses import CommandStatus

# Every actor a worker runs, with the message body it takes.
_REPLAYABLE: Final[dict[Route, type[CommandMessage] | type[JobMessage]]] = {
    **dict.fromkeys(ROUTES.values(), CommandMessage),
    MAIL_JOB_ROUTE: JobMessage,
    DOCUMENT_JOB_ROUTE: JobMessage,
}


class NotReplayable(Exception):  # noqa: N818 - a verdict the operator reads
    """The letter cannot be replayed; the message says why."""


@dataclass(frozen=True, slots=True)
class Replayed:
    letter_id: UUID
    route: Route
    # The command reopened for its worker, when the letter was a status command's.
    command_id: UUID | None


def replay_dead_letter(session: Session, letter_id: UUID) -> Replayed:
    """Queue the letter's message again and mark the letter replayed.

    Raises LookupError when there is no such letter, NotReplayable when it cannot be
    replayed (nothing is changed then).
    """
    letter = session.scalar(select(DeadLetter).where(DeadLetter.id == letter_id).with_for_update())
    if letter is None:
        raise LookupError(f"no dead letter {letter_id}")
    if letter.replayed_at is not None:
        raise NotReplayable(f"already replayed at {letter.replayed_at.isoformat()}")
    if letter.body == ERASED_BODY:
        raise NotReplayable("erased by a purge")
    if letter.source != "worker":
        raise NotReplayable(
            "never accepted: correct the message and publish it again (it came from"
            f" {letter.source})"
        )
    route, payload = _worker_message(letter)
    if payload.organisation_id != letter.organisation_id:
        raise NotReplayable("the message's organisation_id differs from the letter's")
    command_id = None
    if isinstance(payload, CommandMessage):
        command_id = payload.command_id
        _reopen(session, payload)
    enqueue_task(session, route, payload.organisation_id, payload.model_dump(mode="json"))
    letter.replayed_at = utcnow()
    return Replayed(letter.id, route, command_id)


def _worker_message(letter: DeadLetter) -> tuple[Route, CommandMessage | JobMessage]:
    if letter.body_encoding != "utf-8":
        raise NotReplayable("the body is not a worker message (not UTF-8 JSON)")
    try:
        # pydantic's parser: a refused hostile body may nest deeper than json's recursion.
        message: Any = from_json(letter.body)
        route = Route(queue=q_name(message["queue_name"]), actor=message["actor_name"])
        (body,) = message["args"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise NotReplayable(f"the body is not a Dramatiq message: {exc!r}") from None
    contract = _REPLAYABLE.get(route)
    if contract is None:
        raise NotReplayable(f"no worker runs {route.actor!r} on queue {route.queue!r}")
    try:
        return route, contract.model_validate(body)
    except ValidationError as exc:
        raise NotReplayable(
            f"the message does not validate: {exc.error_count()} error(s)"
        ) from None


def _reopen(session: Session, message: CommandMessage) -> None:
    record = session.scalar(
        select(CommandRecord)
        .where(
            CommandRecord.id == message.command_id,
            CommandRecord.organisation_id == message.organisation_id,
        )
        .with_for_update()
    )
    if record is None:
        raise NotReplayable(f"command {message.command_id} no longer exists")
    if record.status not in (CommandStatus.FAILED, CommandStatus.ACCEPTED):
        raise NotReplayable(f"command {record.id} has its outcome already: {record.status}")
    record.status = CommandStatus.ACCEPTED
    record.outcome_code = record.outcome_message = None
    record.completed_at = None
