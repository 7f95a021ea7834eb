"""Every message delivered twice, on RabbitMQ and PostgreSQL, changes nothing twice."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from services.status_worker.handlers import HANDLERS
from services.status_worker.unit_of_work import run_command
from shared.db.database import Database
from shared.db.models import ApplicationEvent, CommandRecord, InboxEntry, OutboxMessage
from shared.messaging.outbox import TASK
from shared.messaging.publishers import PipelinedPublisher
from shared.statuses import ApplicationStatus
from tests.conftest import make_tenant
from tests.outbox import outgoing
from tests.processes import wait_until
from tests.seeds import Reference, seed_application, seed_reference
from tests.workflow import accept, task_message

pytestmark = pytest.mark.integration

APPLICATIONS = 100
ROUNDS = 10  # 100 applications x 10 rounds = 1,000 commands
LATER = (datetime.now(UTC) + timedelta(days=5)).isoformat()
START = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()


def _bodies(ref: Reference) -> list[dict[str, Any]]:
    """The commands to mix; none touches another application than its own."""
    return [
        {
            "type": "invite_to_interview",
            "interview_type": "phone",
            "start": LATER,
            "duration_minutes": 45,
        },
        {"type": "save_application", "note": "Strong profile"},
        {"type": "save_and_send_credentials"},
        {
            "type": "reject_application",
            "rejection_type": "by_company",
            "reason_id": str(ref.reason_id),
        },
        {"type": "unreject_application"},
        {
            "type": "send_offer",
            "salary": {"amount": "3900.00", "currency": "EUR", "period": "month"},
            "start_date": START,
        },
        {"type": "record_offer_response", "response": "accepted"},
        {"type": "record_offer_response", "response": "declined", "reason": "Salary"},
        {"type": "withdraw_application", "reason": "Moved abroad"},
        {"type": "delete_application"},
        {"type": "restore_application"},
        {
            "type": "hire_applicant",
            "position_id": str(ref.position_id),
            "department_id": str(ref.department_id),
            "start_date": START,
        },
    ]


def _plan(seed: int) -> list[list[int]]:
    """For each round, which command each application gets (the same for both runs)."""
    rng = random.Random(seed)
    return [[rng.randrange(12) for _ in range(APPLICATIONS)] for _ in range(ROUNDS)]


def _setup(db: Database) -> tuple[uuid.UUID, Reference, list[uuid.UUID]]:
    tenant = make_tenant(db)
    ref = seed_reference(db, tenant.organisation_id)
    apps = [
        seed_application(
            db,
            tenant.organisation_id,
            ref.vacancy_id,
            ApplicationStatus.RECEIVED,
            name=f"Applicant {i}",
        )
        for i in range(APPLICATIONS)
    ]
    return tenant.organisation_id, ref, apps


def _history(
    db: Database, organisation_id: uuid.UUID, apps: list[uuid.UUID]
) -> list[list[tuple[Any, ...]]]:
    with db.transaction() as session:
        rows = session.execute(
            select(
                ApplicationEvent.application_id,
                ApplicationEvent.event_type,
                ApplicationEvent.from_status,
                ApplicationEvent.to_status,
                ApplicationEvent.reason,
            )
            .where(ApplicationEvent.organisation_id == organisation_id)
            .order_by(ApplicationEvent.occurred_at, ApplicationEvent.id)
        ).all()
        outcomes = session.execute(
            select(
                CommandRecord.application_id,
                CommandRecord.type,
                CommandRecord.status,
                CommandRecord.outcome_code,
            )
            .where(CommandRecord.organisation_id == organisation_id)
            .order_by(CommandRecord.created_at, CommandRecord.id)
        ).all()
    index = {app_id: i for i, app_id in enumerate(apps)}
    per_app: list[list[tuple[Any, ...]]] = [[] for _ in apps]
    for row in rows:
        if row.application_id in index:
            per_app[index[row.application_id]].append(("history", *row[1:]))
    for outcome in outcomes:
        assert outcome.application_id is not None
        per_app[index[outcome.application_id]].append(("outcome", *outcome[1:]))
    return per_app


@pytest.mark.usefixtures("worker_process")
def test_a_thousand_commands_each_delivered_twice_end_as_with_single_delivery(
    pg: Database, amqp: str
) -> None:
    plan = _plan(seed=20261127)

    # Given the reference run: the same plan, each message delivered once, in-process
    ref_org, ref_ref, ref_apps = _setup(pg)
    ref_bodies = _bodies(ref_ref)
    for round_plan in plan:
        for app_id, choice in zip(ref_apps, round_plan, strict=True):
            accepted = accept(pg, ref_org, {**ref_bodies[choice], "application_id": str(app_id)})
            run_command(
                pg, task_message(pg, accepted["command_id"]), HANDLERS[ref_bodies[choice]["type"]]
            )

    # When the same plan runs through RabbitMQ and a real worker, every message published twice
    org, ref, apps = _setup(pg)
    bodies = _bodies(ref)
    publisher = PipelinedPublisher(amqp)
    publisher.connect()
    try:
        for round_plan in plan:
            command_ids = [
                accept(pg, org, {**bodies[choice], "application_id": str(app_id)})["command_id"]
                for app_id, choice in zip(apps, round_plan, strict=True)
            ]
            with pg.transaction() as session:
                rows = session.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.kind == TASK,
                        OutboxMessage.organisation_id == org,
                        OutboxMessage.published_at.is_(None),
                    )
                ).all()
                messages = outgoing(rows)
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([r.id for r in rows]))
                    .values(published_at=func.now())
                )
            results = publisher.publish(messages + messages)
            assert set(results.values()) == {None}

            def round_done(ids: list[str] = command_ids) -> bool:
                with pg.transaction() as session:
                    return not session.scalar(
                        select(func.count())
                        .select_from(CommandRecord)
                        .where(
                            CommandRecord.id.in_([uuid.UUID(i) for i in ids]),
                            CommandRecord.status == "accepted",
                        )
                    )

            wait_until(round_done, timeout_s=120, what="a round of 100 commands")
    finally:
        publisher.close()

    # Then every command has one outcome, recorded once, and the history equals the reference
    with pg.transaction() as session:
        commands = session.scalars(
            select(CommandRecord.id).where(CommandRecord.organisation_id == org)
        ).all()
        inbox = session.scalar(
            select(func.count())
            .select_from(InboxEntry)
            .where(InboxEntry.message_key.in_([str(c) for c in commands]))
        )
        completed = Counter(
            payload["command_id"]
            for payload in session.scalars(
                select(OutboxMessage.payload).where(
                    OutboxMessage.organisation_id == org,
                    OutboxMessage.destination == "command.completed",
                )
            )
        )
    assert len(commands) == APPLICATIONS * ROUNDS
    assert inbox == len(commands)
    assert len(completed) == len(commands) and set(completed.values()) == {1}
    assert _history(pg, org, apps) == _history(pg, ref_org, ref_apps)
