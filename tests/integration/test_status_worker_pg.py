"""The status worker's unit of work on PostgreSQL: one statement to claim a command, one
for the writes nothing reads back, and nothing of either when the transaction fails."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.status_worker.unit_of_work import run_command
from shared.db.database import Database
from shared.db.deferred_writes import append
from shared.db.models import (
    Application,
    ApplicationEvent,
    CommandRecord,
    InboxEntry,
    Interview,
    OutboxMessage,
    ScheduledJob,
)
from shared.errors import PermanentError
from shared.ids import new_id
from tests.conftest import make_tenant
from tests.factories import open_vacancy, register_body, withdraw_body
from tests.sql_log import statements
from tests.workflow import HANDLERS, accept, run, task_message

pytestmark = pytest.mark.integration

LATER = (datetime.now(UTC) + timedelta(days=3)).isoformat()


def _count(db: Database, model: type[Any], *where: Any) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_withdrawing_claims_in_one_statement_and_writes_the_rest_in_one_more(pg: Database) -> None:
    # Given an application with pending mail (receipt, invitation) and an interview to come
    tenant = make_tenant(pg)
    vacancy = open_vacancy(pg, tenant.organisation_id)
    registered = run(pg, tenant.organisation_id, register_body(vacancy, send_receipt=True))
    application_id = registered.application_id
    invite = {
        "type": "invite_to_interview",
        "application_id": str(application_id),
        "interview_type": "video",
        "video_link": "https://meet.example.org/x",
        "start": LATER,
        "duration_minutes": 30,
    }
    run(pg, tenant.organisation_id, invite)
    accepted = accept(pg, tenant.organisation_id, withdraw_body(application_id, notify=True))
    message = task_message(pg, accepted["command_id"])

    # When the worker runs the withdrawal
    with statements(pg) as sent:
        run_command(pg, message, HANDLERS["withdraw_application"])

    # Then one statement claimed it: inbox row, command row and application locked
    claims = [s for s in sent if "INSERT INTO inbox" in s]
    assert len(claims) == 1
    assert "FROM applications" in claims[0]
    assert "FOR UPDATE OF commands" in claims[0]
    assert not any(s.lstrip().startswith("SELECT") for s in sent if s not in claims)
    # And one statement wrote the application, its history, both events, both cancels
    # and the outcome; the only other one is the flush of the mail job it schedules
    [batch] = [s for s in sent if "INSERT INTO application_events" in s]
    assert "UPDATE applications" in batch
    assert [s for s in sent if s not in claims and s != batch] == [
        next(s for s in sent if s.startswith("INSERT INTO scheduled_jobs"))
    ]
    for part in ("INSERT INTO outbox", "UPDATE scheduled_jobs", "UPDATE interviews"):
        assert batch.count(part) == (2 if part == "INSERT INTO outbox" else 1), part
    assert "UPDATE commands" in batch
    # And every effect is there
    with pg.transaction() as session:
        application = session.get(Application, application_id)
        assert application is not None
        assert (application.status, application.version) == ("withdrawn", 3)
        jobs = dict(session.execute(select(ScheduledJob.purpose, ScheduledJob.status)).all())
        assert jobs == {
            "receipt": "cancelled",
            "interview_invitation": "cancelled",
            "withdrawal_confirmation": "pending",  # scheduled by the withdrawal itself
        }
        assert session.scalars(select(Interview.status)).all() == ["cancelled"]
        record = session.get(CommandRecord, uuid.UUID(accepted["command_id"]))
        assert record is not None
        assert (record.status, record.result, record.completed_at is not None) == (
            "succeeded",
            None,
            True,
        )
        # the result column is SQL NULL, not JSON 'null'
        assert session.scalar(
            select(CommandRecord.result.is_(None)).where(CommandRecord.id == record.id)
        )
    withdrawals = _count(
        pg, ApplicationEvent, ApplicationEvent.event_type == "application.withdrawn"
    )
    assert withdrawals == 1
    with pg.transaction() as session:
        completions = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.destination == "command.completed")
        ).all()
    completed = sum(1 for p in completions if p["command_id"] == accepted["command_id"])
    assert completed == 1

    # And a redelivery finds the inbox row and writes nothing
    with statements(pg) as again:
        run_command(pg, message, HANDLERS["withdraw_application"])
    assert [s for s in again if "INSERT INTO application_events" in s] == []
    assert _count(pg, ApplicationEvent, ApplicationEvent.application_id == application_id) == 3


def test_a_command_of_another_organisation_is_a_permanent_error_that_leaves_no_inbox_row(
    pg: Database,
) -> None:
    tenant, other = make_tenant(pg, name="Acme"), make_tenant(pg, name="Other")
    vacancy = open_vacancy(pg, tenant.organisation_id)
    accepted = accept(pg, tenant.organisation_id, register_body(vacancy))
    message = task_message(pg, accepted["command_id"]) | {
        "organisation_id": str(other.organisation_id)
    }
    with pytest.raises(PermanentError, match="not found for its organisation"):
        run_command(pg, message, HANDLERS["register_application"])
    assert _count(pg, InboxEntry) == 0
    assert _count(pg, Application) == 0


def test_deferred_writes_are_forgotten_when_the_transaction_rolls_back(pg: Database) -> None:
    tenant = make_tenant(pg)
    row = {
        "id": new_id(),
        "organisation_id": tenant.organisation_id,
        "application_id": new_id(),
        "event_type": "application.withdrawn",
    }
    with Session(pg.engine) as session:
        session.begin()
        append(session, ApplicationEvent, row)
        session.rollback()
        session.begin()
        session.commit()  # a later commit of the same session writes nothing stale
    assert _count(pg, ApplicationEvent) == 0
    with Session(pg.engine) as session, session.begin():
        append(session, ApplicationEvent, row)
    assert _count(pg, ApplicationEvent, ApplicationEvent.id == row["id"]) == 1
