"""Replaying dead letters: a failed command gets a fresh try, and only what can be replayed is."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from services.cli import app
from services.status_worker.unit_of_work import fail_command, run_command
from shared.db.database import Database
from shared.db.models import CommandRecord, DeadLetter, OutboxMessage
from shared.errors import PermanentError
from shared.messaging.dead_letters import ERASED_BODY, record_dead_letter
from shared.messaging.middleware import describe_failure
from shared.messaging.outbox import TASK
from shared.messaging.relay import outgoing_for
from shared.messaging.replay import NotReplayable, replay_dead_letter
from shared.settings import get_settings
from tests.conftest import Tenant
from tests.factories import open_vacancy, register_body
from tests.workflow import HANDLERS, accept, task_message

runner = CliRunner()


def _tasks(db: Database, command_id: uuid.UUID | str) -> list[OutboxMessage]:
    with db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == TASK).order_by(OutboxMessage.id)
        ).all()
        for row in rows:
            session.expunge(row)
    return [row for row in rows if row.payload.get("command_id") == str(command_id)]


def _worker_gives_up(db: Database, task: OutboxMessage, error: Exception) -> uuid.UUID:
    """What status_worker's DeadLetterRecorder does with a message it gave up on."""
    sent = dramatiq.Message.decode(outgoing_for(task, "events").body)
    details = describe_failure(dramatiq.broker.MessageProxy(sent), error)
    with db.transaction() as session:
        letter = record_dead_letter(session, source="worker", **details)
        fail_command(session, details["command_id"], details["organisation_id"], details["reason"])
        return letter.id


def _command(db: Database, command_id: uuid.UUID | str) -> CommandRecord:
    with db.transaction() as session:
        record = session.get(CommandRecord, uuid.UUID(str(command_id)))
        assert record is not None
        session.expunge(record)
        return record


@pytest.fixture
def failed(db: Database, tenant: Tenant) -> tuple[str, uuid.UUID]:
    """A registration that failed for good in the worker: its stored fields did not
    validate then (a bug since fixed); the id of its command and of its dead letter."""
    body = register_body(open_vacancy(db, tenant.organisation_id))
    command_id = accept(db, tenant.organisation_id, body)["command_id"]
    with db.transaction() as session:
        session.execute(
            update(CommandRecord)
            .where(CommandRecord.id == uuid.UUID(command_id))
            .values(payload={**body, "vacancy_id": "not-a-uuid"})
        )
    message = task_message(db, command_id)
    with pytest.raises(PermanentError) as raised:
        run_command(db, message, HANDLERS["register_application"])
    letter = _worker_gives_up(db, _tasks(db, command_id)[0], raised.value)
    with db.transaction() as session:
        session.execute(
            update(CommandRecord)
            .where(CommandRecord.id == uuid.UUID(command_id))
            .values(payload=body)
        )
    return command_id, letter


def test_a_replayed_failed_command_is_reopened_queued_again_and_then_succeeds(
    db: Database, failed: tuple[str, uuid.UUID]
) -> None:
    command_id, letter_id = failed
    assert _command(db, command_id).status == "failed"

    with db.transaction() as session:
        replayed = replay_dead_letter(session, letter_id)

    assert (replayed.route.queue, replayed.route.actor) == ("status", "register_application")
    reopened = _command(db, command_id)
    assert (reopened.status, reopened.outcome_message, reopened.completed_at) == (
        "accepted",
        None,
        None,
    )
    first, again = _tasks(db, command_id)
    assert again.payload == first.payload and again.id != first.id
    run_command(db, again.payload, HANDLERS["register_application"])
    done = _command(db, command_id)
    assert done.status == "succeeded" and done.application_id is not None
    with db.transaction() as session:
        letter = session.get(DeadLetter, letter_id)
        assert letter is not None and letter.replayed_at is not None


def test_a_letter_is_replayed_once(db: Database, failed: tuple[str, uuid.UUID]) -> None:
    _, letter_id = failed
    with db.transaction() as session:
        replay_dead_letter(session, letter_id)
    with db.transaction() as session, pytest.raises(NotReplayable, match="already replayed"):
        replay_dead_letter(session, letter_id)


def test_a_command_that_has_its_outcome_is_not_run_again(
    db: Database, failed: tuple[str, uuid.UUID]
) -> None:
    command_id, letter_id = failed
    with db.transaction() as session:
        session.execute(
            update(CommandRecord)
            .where(CommandRecord.id == uuid.UUID(command_id))
            .values(status="succeeded")
        )
    with db.transaction() as session, pytest.raises(NotReplayable, match="succeeded"):
        replay_dead_letter(session, letter_id)
    assert len(_tasks(db, command_id)) == 1


def _letter(db: Database, **fields: Any) -> uuid.UUID:
    with db.transaction() as session:
        return record_dead_letter(session, **{"queue": "status", "reason": "boom", **fields}).id


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"source": "ingress", "body": '{"command": {}}'}, "never accepted"),
        ({"source": "worker", "body": ERASED_BODY}, "erased by a purge"),
        ({"source": "worker", "body": b"\xff\xfe"}, "not UTF-8"),
        ({"source": "worker", "body": "[1, 2"}, "not a Dramatiq message"),
        # refused by a worker's consumer, as hostile bodies are
        ({"source": "worker", "body": '{"a":' + "[" * 1000 + "]" * 1000 + "}"}, "not a Dramatiq"),
        ({"source": "worker", "body": '{"queue_name": 1, "actor_name": "x"}'}, "not a Dramatiq"),
        (
            {
                "source": "worker",
                "body": json.dumps(
                    {"queue_name": "status", "actor_name": "drop_tables", "args": [{}]}
                ),
            },
            "no worker runs 'drop_tables'",
        ),
        (
            {
                "source": "worker",
                "body": json.dumps(
                    {"queue_name": "mail.XQ", "actor_name": "deliver_mail_job", "args": [{}]}
                ),
            },
            "does not validate",
        ),
    ],
    ids=[
        "ingress",
        "erased",
        "binary",
        "not-json",
        "nested-arrays",
        "queue-not-text",
        "unknown-actor",
        "invalid-payload",
    ],
)
def test_what_cannot_be_replayed_is_refused_with_the_reason_and_left_as_it_was(
    db: Database, fields: dict[str, Any], why: str
) -> None:
    letter_id = _letter(db, **fields)
    with db.transaction() as session, pytest.raises(NotReplayable, match=why):
        replay_dead_letter(session, letter_id)
    with db.transaction() as session:
        letter = session.get(DeadLetter, letter_id)
        assert letter is not None and letter.replayed_at is None
        assert session.scalars(select(OutboxMessage)).all() == []


def test_a_failed_mail_job_goes_back_to_the_mail_queue(db: Database, tenant: Tenant) -> None:
    job = {"job_id": str(uuid.uuid4()), "organisation_id": str(tenant.organisation_id)}
    letter_id = _letter(
        db,
        source="worker",
        queue="mail",
        organisation_id=tenant.organisation_id,
        body=json.dumps({"queue_name": "mail.DQ", "actor_name": "deliver_mail_job", "args": [job]}),
    )
    with db.transaction() as session:
        replayed = replay_dead_letter(session, letter_id)
    assert replayed.command_id is None
    with db.transaction() as session:
        queued = session.scalars(select(OutboxMessage)).one()
        assert (queued.destination, queued.actor_name, queued.payload) == (
            "mail",
            "deliver_mail_job",
            job,
        )


@pytest.fixture
def cli_database(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WERVING_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_database")
def test_the_cli_shows_and_replays_letters_and_exits_1_naming_those_it_could_not(
    db: Database, failed: tuple[str, uuid.UUID]
) -> None:
    command_id, letter_id = failed
    shown = runner.invoke(app, ["deadletters", "show", str(letter_id)])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["command_id"] == command_id
    ingress = _letter(db, source="ingress", body="{")

    replayed = runner.invoke(app, ["deadletters", "replay", str(letter_id), str(ingress)])

    assert replayed.exit_code == 1
    assert f"{letter_id}  replayed to status/register_application" in replayed.stdout
    assert f"command {command_id} reopened" in replayed.stdout
    assert f"{ingress}  not replayed: never accepted" in replayed.stderr
    assert _command(db, command_id).status == "accepted"
