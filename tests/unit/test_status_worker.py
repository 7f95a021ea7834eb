"""status_worker: registering and withdrawing, refusals as outcomes, exactly-once effects."""

from __future__ import annotations

import uuid

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import func, select

from services.status_worker.unit_of_work import run_command
from shared.db.database import Database
from shared.db.models import Application, ApplicationEvent, CommandRecord, DeadLetter, OutboxMessage
from shared.errors import PermanentError
from shared.messaging.outbox import EVENT
from tests.conftest import Tenant, make_tenant
from tests.factories import open_vacancy, register_body, withdraw_body
from tests.workflow import HANDLERS, accept, run, task_message


def _application(db: Database, application_id: uuid.UUID | None) -> Application:
    with db.transaction() as session:
        application = session.get(Application, application_id)
        assert application is not None
        session.expunge(application)
        return application


def _events(db: Database, name: str) -> list[dict[str, object]]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage.payload).where(
                    OutboxMessage.kind == EVENT, OutboxMessage.destination == name
                )
            )
        )


def test_registering_creates_a_received_application_with_history(
    db: Database, tenant: Tenant
) -> None:
    vacancy = open_vacancy(db, tenant.organisation_id)
    record = run(db, tenant.organisation_id, register_body(vacancy, actor="recruiter-7"))
    assert record.status == "succeeded"
    application = _application(db, record.application_id)
    assert application.status == "received"
    assert application.version == 1
    assert application.screening_answers == [{"question": "Driving licence?", "answer": "Yes"}]
    with db.transaction() as session:
        event = session.scalars(select(ApplicationEvent)).one()
    assert (event.from_status, event.to_status, event.actor) == (None, "received", "recruiter-7")
    [changed] = _events(db, "application.status_changed")
    assert changed["to_status"] == "received"
    [completed] = _events(db, "command.completed")
    assert completed["status"] == "succeeded"


def test_withdrawing_records_from_and_to_status_and_the_reason(
    db: Database, tenant: Tenant
) -> None:
    registered = run(
        db, tenant.organisation_id, register_body(open_vacancy(db, tenant.organisation_id))
    )
    record = run(
        db, tenant.organisation_id, withdraw_body(registered.application_id, note="By phone")
    )
    assert record.status == "succeeded"
    application = _application(db, registered.application_id)
    assert (application.status, application.status_before, application.version) == (
        "withdrawn",
        "received",
        2,
    )
    with db.transaction() as session:
        last = session.scalars(
            select(ApplicationEvent).order_by(ApplicationEvent.occurred_at.desc())
        ).first()
    assert last is not None
    assert (last.from_status, last.to_status) == ("received", "withdrawn")
    assert (last.reason, last.note) == ("Accepted another offer", "By phone")


def test_withdrawing_twice_is_refused_as_an_outcome_not_retried(
    db: Database, tenant: Tenant
) -> None:
    registered = run(
        db, tenant.organisation_id, register_body(open_vacancy(db, tenant.organisation_id))
    )
    run(db, tenant.organisation_id, withdraw_body(registered.application_id))
    again = run(db, tenant.organisation_id, withdraw_body(registered.application_id))
    assert again.status == "rejected"
    assert again.outcome_code == "invalid_transition"
    assert again.outcome_message is not None
    assert (
        "withdraw_application" in again.outcome_message and "'withdrawn'" in again.outcome_message
    )
    assert _application(db, registered.application_id).version == 2
    refusal = [e for e in _events(db, "command.completed") if e["status"] == "rejected"]
    assert refusal[0]["code"] == "invalid_transition"


def test_a_stale_expected_version_is_a_version_conflict(db: Database, tenant: Tenant) -> None:
    registered = run(
        db, tenant.organisation_id, register_body(open_vacancy(db, tenant.organisation_id))
    )
    record = run(
        db, tenant.organisation_id, withdraw_body(registered.application_id, expected_version=5)
    )
    assert (record.status, record.outcome_code) == ("rejected", "version_conflict")
    assert _application(db, registered.application_id).status == "received"
    ok = run(
        db, tenant.organisation_id, withdraw_body(registered.application_id, expected_version=1)
    )
    assert ok.status == "succeeded"


def test_registering_on_a_closed_vacancy_is_refused(db: Database, tenant: Tenant) -> None:
    vacancy = open_vacancy(db, tenant.organisation_id)
    with db.transaction() as session:
        from shared.db.models import Vacancy

        closed = session.get(Vacancy, vacancy)
        assert closed is not None
        closed.is_open = False
    record = run(db, tenant.organisation_id, register_body(vacancy))
    assert (record.status, record.outcome_code) == ("rejected", "vacancy_closed")
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Application)) == 0


def test_an_existing_applicant_cannot_apply_twice_for_one_vacancy(
    db: Database, tenant: Tenant
) -> None:
    vacancy = open_vacancy(db, tenant.organisation_id)
    first = run(db, tenant.organisation_id, register_body(vacancy))
    applicant_id = _application(db, first.application_id).applicant_id
    again = run(
        db,
        tenant.organisation_id,
        register_body(vacancy, applicant=None, applicant_id=str(applicant_id)),
    )
    assert (again.status, again.outcome_code) == ("rejected", "already_applied")
    elsewhere = run(
        db,
        tenant.organisation_id,
        register_body(
            open_vacancy(db, tenant.organisation_id), applicant=None, applicant_id=str(applicant_id)
        ),
    )
    assert elsewhere.status == "succeeded"
    assert _application(db, elsewhere.application_id).applicant_id == applicant_id


def test_withdrawing_one_application_leaves_the_applicants_other_applications(
    db: Database, tenant: Tenant
) -> None:
    first = run(db, tenant.organisation_id, register_body(open_vacancy(db, tenant.organisation_id)))
    applicant_id = _application(db, first.application_id).applicant_id
    second = run(
        db,
        tenant.organisation_id,
        register_body(
            open_vacancy(db, tenant.organisation_id), applicant=None, applicant_id=str(applicant_id)
        ),
    )
    run(db, tenant.organisation_id, withdraw_body(first.application_id))
    assert _application(db, first.application_id).status == "withdrawn"
    assert _application(db, second.application_id).status == "received"
    assert _application(db, second.application_id).version == 1


def test_another_organisations_application_is_not_found(db: Database, tenant: Tenant) -> None:
    registered = run(
        db, tenant.organisation_id, register_body(open_vacancy(db, tenant.organisation_id))
    )
    intruder = make_tenant(db, name="Intruder")
    record = run(db, intruder.organisation_id, withdraw_body(registered.application_id))
    assert (record.status, record.outcome_code) == ("rejected", "not_found")
    assert _application(db, registered.application_id).status == "received"


def test_a_redelivered_message_changes_the_state_once(db: Database, tenant: Tenant) -> None:
    registered = run(
        db, tenant.organisation_id, register_body(open_vacancy(db, tenant.organisation_id))
    )
    accepted = accept(db, tenant.organisation_id, withdraw_body(registered.application_id))
    message = task_message(db, accepted["command_id"])
    run_command(db, message, HANDLERS["withdraw_application"])
    run_command(db, message, HANDLERS["withdraw_application"])
    assert _application(db, registered.application_id).version == 2
    with db.transaction() as session:
        withdrawals = session.scalar(
            select(func.count())
            .select_from(ApplicationEvent)
            .where(ApplicationEvent.to_status == "withdrawn")
        )
    assert withdrawals == 1
    assert len(_events(db, "command.completed")) == 2  # one per command, not per delivery


def test_a_message_for_an_unknown_command_is_a_permanent_error(
    db: Database, tenant: Tenant
) -> None:
    with pytest.raises(PermanentError, match="not found"):
        run_command(
            db,
            {"command_id": str(uuid.uuid4()), "organisation_id": str(tenant.organisation_id)},
            HANDLERS["withdraw_application"],
        )
    with pytest.raises(PermanentError, match="malformed message"):
        run_command(db, {"command_id": "nope"}, HANDLERS["withdraw_application"])


def _run_on_stub_worker(
    db: Database, monkeypatch: pytest.MonkeyPatch, *messages: dict[str, object]
) -> None:
    """Send ``messages`` to the real withdraw actor on the in-process broker and wait."""
    from services.status_worker import actors, boot

    monkeypatch.setattr(boot, "db", db)
    broker = dramatiq.get_broker()
    assert isinstance(broker, StubBroker)
    broker.flush_all()
    # One thread: the messages are handled in the order they were sent.
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        for message in messages:
            actors.withdraw_application.send(message)
        broker.join(actors.withdraw_application.queue_name, fail_fast=False)
        worker.join()
    finally:
        worker.stop()


def test_a_poisoned_message_is_dead_lettered_and_the_next_one_still_applies(
    db: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a command, and a copy of its message that names another organisation
    registered = run(
        db, tenant.organisation_id, register_body(open_vacancy(db, tenant.organisation_id))
    )
    accepted = accept(db, tenant.organisation_id, withdraw_body(registered.application_id))
    good = task_message(db, accepted["command_id"])
    poisoned = {**good, "organisation_id": str(uuid.uuid4())}
    # When the worker gets the poisoned message first, then the good one
    _run_on_stub_worker(db, monkeypatch, poisoned, good)
    # Then the poisoned one is in dead_letters with its reason, without touching the command,
    # and the good one is applied
    with db.transaction() as session:
        letter = session.scalars(select(DeadLetter)).one()
        assert (letter.source, letter.queue, letter.actor_name) == (
            "worker",
            "status",
            "withdraw_application",
        )
        assert "not found for its organisation" in letter.reason
        record = session.get(CommandRecord, uuid.UUID(accepted["command_id"]))
        assert record is not None and record.status == "succeeded"
    assert _application(db, registered.application_id).status == "withdrawn"


def test_a_command_that_fails_permanently_gets_the_failed_outcome_at_once(
    db: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a command whose stored payload no longer validates
    registered = run(
        db, tenant.organisation_id, register_body(open_vacancy(db, tenant.organisation_id))
    )
    accepted = accept(db, tenant.organisation_id, withdraw_body(registered.application_id))
    with db.transaction() as session:
        record = session.get(CommandRecord, uuid.UUID(accepted["command_id"]))
        assert record is not None
        record.payload = {"type": "withdraw_application"}
    # When the worker processes it
    _run_on_stub_worker(db, monkeypatch, task_message(db, accepted["command_id"]))
    # Then it is dead-lettered after one attempt and the command reads failed, with the reason
    with db.transaction() as session:
        letter = session.scalars(select(DeadLetter)).one()
        assert "stored command does not validate" in letter.reason
        record = session.get(CommandRecord, uuid.UUID(accepted["command_id"]))
        assert record is not None
        assert record.status == "failed"
        assert record.outcome_message is not None and "does not validate" in record.outcome_message
    assert [e["status"] for e in _events(db, "command.completed")] == ["succeeded", "failed"]
