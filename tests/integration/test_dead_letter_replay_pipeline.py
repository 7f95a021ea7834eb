"""A command the real worker gave up on, replayed with ``werving deadletters replay``
once the cause is fixed: the relay publishes it again and the worker completes it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from services.command_api.acceptance import accept_command
from shared.commands import COMMAND_ADAPTER
from shared.db.database import Database
from shared.db.models import CommandRecord, DeadLetter
from tests.conftest import make_tenant
from tests.factories import new_key, open_vacancy, register_body
from tests.processes import run_werving, wait_until

pytestmark = pytest.mark.integration


def _status(pg: Database, command_id: uuid.UUID) -> str | None:
    with pg.transaction() as session:
        return session.scalar(select(CommandRecord.status).where(CommandRecord.id == command_id))


@pytest.mark.usefixtures("relay_process", "worker_process")
def test_a_dead_lettered_command_replayed_from_the_cli_completes(
    pg: Database, env: dict[str, str]
) -> None:
    tenant = make_tenant(pg)
    body = register_body(open_vacancy(pg, tenant.organisation_id))
    # A command whose stored fields the worker cannot read: it fails for good at once.
    with pg.transaction() as session:
        accepted = accept_command(
            session,
            organisation_id=tenant.organisation_id,
            idempotency_key=new_key(),
            command=COMMAND_ADAPTER.validate_python(body),
            source="http",
            retention=timedelta(hours=48),
        )
        command_id = uuid.UUID(accepted.body["command_id"])
        session.execute(
            update(CommandRecord)
            .where(CommandRecord.id == command_id)
            .values(payload={**body, "vacancy_id": "not-a-uuid"})
        )
    wait_until(lambda: _status(pg, command_id) == "failed", what="the command to fail")
    with pg.transaction() as session:
        letter = session.scalars(
            select(DeadLetter).where(DeadLetter.command_id == command_id)
        ).one()
        letter_id = letter.id
        assert letter.source == "worker" and "does not validate" in letter.reason
        # The cause is fixed.
        session.execute(
            update(CommandRecord).where(CommandRecord.id == command_id).values(payload=body)
        )

    replay = run_werving(env, "deadletters", "replay", str(letter_id))

    assert replay.returncode == 0, replay.stderr
    assert f"command {command_id} reopened" in replay.stdout
    wait_until(lambda: _status(pg, command_id) == "succeeded", what="the replayed command")
    again = run_werving(env, "deadletters", "replay", str(letter_id))
    assert again.returncode == 1 and "already replayed" in again.stderr
