"""The rules of each recruiter action beyond its transition: what it creates, refuses, cancels."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from shared.db.database import Database
from shared.db.models import (
    Applicant,
    Application,
    ApplicationEvent,
    CommandRecord,
    Employee,
    Interview,
    Offer,
    Vacancy,
)
from shared.statuses import ApplicationStatus as S
from tests.conftest import Tenant
from tests.documents import stored_cv
from tests.seeds import seed_reference
from tests.workflow import run

START = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
LATER = (datetime.now(UTC) + timedelta(days=3)).isoformat()


def _get(db: Database, model: type, key: object) -> object:
    with db.transaction() as session:
        row = session.get(model, key)
        if row is not None:
            session.expunge(row)
        return row


def _application(db: Database, application_id: uuid.UUID) -> Application:
    application = _get(db, Application, application_id)
    assert isinstance(application, Application)
    return application


def _register(db: Database, tenant: Tenant, vacancy_id: uuid.UUID, **fields: object) -> uuid.UUID:
    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "register_application",
            "vacancy_id": str(vacancy_id),
            "applicant": {"name": "Ann de Vries", "email": f"{uuid.uuid4().hex[:6]}@example.org"},
            "application_text": "Motivation for this vacancy",
            **fields,
        },
    )
    assert record.status == "succeeded" and record.application_id is not None
    return record.application_id


def _offer(salary: str = "3500.00") -> dict[str, object]:
    return {
        "type": "send_offer",
        "salary": {"amount": salary, "currency": "EUR", "period": "month"},
        "start_date": START,
    }


def test_a_transfer_takes_the_applicant_and_cv_but_leaves_the_vacancy_specific_data(
    db: Database, tenant: Tenant
) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    cv = stored_cv(db, tenant.organisation_id)
    source = _register(
        db,
        tenant,
        ref.vacancy_id,
        cv_document_id=str(cv),
        screening_answers=[{"question": "Licence?", "answer": "Yes"}],
    )
    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "transfer_application",
            "application_id": str(source),
            "target_vacancy_id": str(ref.other_vacancy_id),
            "mode": "move",
        },
    )
    assert record.status == "succeeded" and record.result is not None
    new = _application(db, uuid.UUID(record.result["new_application_id"]))
    old = _application(db, source)
    assert (old.status, new.status) == (S.TRANSFERRED, S.RECEIVED)
    assert (new.applicant_id, new.cv_document_id, new.vacancy_id) == (
        old.applicant_id,
        cv,
        ref.other_vacancy_id,
    )
    assert (new.application_text, new.screening_answers) == (None, [])
    assert old.application_text == "Motivation for this vacancy"
    assert new.transferred_from_id == source


def test_a_copy_leaves_the_source_as_it_was_and_a_second_transfer_is_already_applied(
    db: Database, tenant: Tenant
) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    source = _register(db, tenant, ref.vacancy_id)
    body = {
        "type": "transfer_application",
        "application_id": str(source),
        "target_vacancy_id": str(ref.other_vacancy_id),
        "mode": "copy",
    }
    assert run(db, tenant.organisation_id, body).status == "succeeded"
    assert _application(db, source).status == S.RECEIVED
    again = run(db, tenant.organisation_id, body)
    assert (again.status, again.outcome_code) == ("rejected", "already_applied")
    same = run(db, tenant.organisation_id, {**body, "target_vacancy_id": str(ref.vacancy_id)})
    assert (same.status, same.outcome_code) == ("rejected", "already_applied")


def test_a_transfer_to_a_closed_vacancy_is_refused(db: Database, tenant: Tenant) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    source = _register(db, tenant, ref.vacancy_id)
    with db.transaction() as session:
        vacancy = session.get(Vacancy, ref.other_vacancy_id)
        assert vacancy is not None
        vacancy.is_open = False
    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "transfer_application",
            "application_id": str(source),
            "target_vacancy_id": str(ref.other_vacancy_id),
            "mode": "move",
        },
    )
    assert (record.status, record.outcome_code) == ("rejected", "vacancy_closed")


def test_a_new_offer_supersedes_the_open_one_and_the_response_goes_to_the_newest(
    db: Database, tenant: Tenant
) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    app = _register(db, tenant, ref.vacancy_id)
    run(db, tenant.organisation_id, {**_offer("3500.00"), "application_id": str(app)})
    run(db, tenant.organisation_id, {**_offer("3800.00"), "application_id": str(app)})
    accepted = run(
        db,
        tenant.organisation_id,
        {"type": "record_offer_response", "application_id": str(app), "response": "accepted"},
    )
    assert accepted.status == "succeeded"
    with db.transaction() as session:
        offers = [
            (o.version, str(o.salary_amount), o.status)
            for o in session.scalars(select(Offer).order_by(Offer.version))
        ]
    assert offers == [(1, "3500.00", "superseded"), (2, "3800.00", "accepted")]
    assert _application(db, app).status == S.OFFERED


def test_answering_an_expired_offer_is_refused(db: Database, tenant: Tenant) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    app = _register(db, tenant, ref.vacancy_id)
    run(db, tenant.organisation_id, {**_offer(), "application_id": str(app)})
    with db.transaction() as session:
        offer = session.scalars(select(Offer)).one()
        offer.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    record = run(
        db,
        tenant.organisation_id,
        {"type": "record_offer_response", "application_id": str(app), "response": "declined"},
    )
    assert (record.status, record.outcome_code) == ("rejected", "offer_expired")
    assert _application(db, app).status == S.OFFERED


def test_hiring_creates_one_employee_and_leaves_other_applications_alone(
    db: Database, tenant: Tenant
) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    hired = _register(db, tenant, ref.vacancy_id)
    applicant_id = _application(db, hired).applicant_id
    other = run(
        db,
        tenant.organisation_id,
        {
            "type": "register_application",
            "vacancy_id": str(ref.other_vacancy_id),
            "applicant_id": str(applicant_id),
        },
    )
    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "hire_applicant",
            "application_id": str(hired),
            "position_id": str(ref.position_id),
            "department_id": str(ref.department_id),
            "start_date": START,
        },
    )
    assert record.status == "succeeded"
    with db.transaction() as session:
        employee = session.scalars(select(Employee)).one()
        applicant = session.get(Applicant, applicant_id)
        assert applicant is not None and applicant.is_candidate is False
    assert (employee.applicant_id, employee.position_id, employee.department_id) == (
        applicant_id,
        ref.position_id,
        ref.department_id,
    )
    assert other.application_id is not None
    assert _application(db, other.application_id).status == S.RECEIVED  # per-vacancy independence
    again = run(
        db,
        tenant.organisation_id,
        {
            "type": "hire_applicant",
            "application_id": str(other.application_id),
            "position_id": str(ref.position_id),
            "department_id": str(ref.department_id),
            "start_date": START,
        },
    )
    assert (again.status, again.outcome_code) == ("rejected", "invalid_transition")
    assert "already employed" in (again.outcome_message or "")


def test_hiring_with_the_option_withdraws_only_the_other_active_applications(
    db: Database, tenant: Tenant
) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    hired = _register(db, tenant, ref.vacancy_id)
    applicant_id = _application(db, hired).applicant_id
    active = run(
        db,
        tenant.organisation_id,
        {
            "type": "register_application",
            "vacancy_id": str(ref.other_vacancy_id),
            "applicant_id": str(applicant_id),
        },
    )
    assert active.application_id is not None
    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "hire_applicant",
            "application_id": str(hired),
            "withdraw_other_applications": True,
            "position_id": str(ref.position_id),
            "department_id": str(ref.department_id),
            "start_date": START,
        },
    )
    assert record.status == "succeeded"
    withdrawn = _application(db, active.application_id)
    assert (withdrawn.status, withdrawn.version) == (S.WITHDRAWN, 2)
    with db.transaction() as session:
        reason = session.scalars(
            select(ApplicationEvent.reason).where(
                ApplicationEvent.application_id == active.application_id,
                ApplicationEvent.to_status == "withdrawn",
            )
        ).one()
    assert reason == f"hired through application {hired}"


def test_a_position_outside_the_department_is_refused(db: Database, tenant: Tenant) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    other_ref = seed_reference(db, tenant.organisation_id)
    app = _register(db, tenant, ref.vacancy_id)
    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "hire_applicant",
            "application_id": str(app),
            "position_id": str(ref.position_id),
            "department_id": str(other_ref.department_id),
            "start_date": START,
        },
    )
    assert (record.status, record.outcome_code) == ("rejected", "not_found")
    assert _application(db, app).status == S.RECEIVED


def test_a_rejection_needs_a_reason_of_the_organisation_and_of_its_type(
    db: Database, tenant: Tenant
) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    app = _register(db, tenant, ref.vacancy_id)
    unknown = run(
        db,
        tenant.organisation_id,
        {
            "type": "reject_application",
            "application_id": str(app),
            "rejection_type": "by_company",
            "reason_id": str(uuid.uuid4()),
        },
    )
    mismatched = run(
        db,
        tenant.organisation_id,
        {
            "type": "reject_application",
            "application_id": str(app),
            "rejection_type": "by_candidate",
            "reason_id": str(ref.reason_id),
        },
    )
    assert [(r.status, r.outcome_code) for r in (unknown, mismatched)] == [
        ("rejected", "unknown_reason")
    ] * 2
    assert _application(db, app).status == S.RECEIVED


def test_rejecting_cancels_the_scheduled_interviews(db: Database, tenant: Tenant) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    app = _register(db, tenant, ref.vacancy_id)
    run(
        db,
        tenant.organisation_id,
        {
            "type": "invite_to_interview",
            "application_id": str(app),
            "interview_type": "video",
            "video_link": "https://meet.example.org/x",
            "start": LATER,
            "duration_minutes": 30,
        },
    )
    run(
        db,
        tenant.organisation_id,
        {
            "type": "reject_application",
            "application_id": str(app),
            "rejection_type": "by_company",
            "reason_id": str(ref.reason_id),
        },
    )
    with db.transaction() as session:
        assert session.scalars(select(Interview.status)).all() == ["cancelled"]


def test_purging_keeps_the_applicant_while_another_application_remains(
    db: Database, tenant: Tenant
) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    first = _register(db, tenant, ref.vacancy_id, application_text="Canary-motivation-1")
    applicant_id = _application(db, first).applicant_id
    second = run(
        db,
        tenant.organisation_id,
        {
            "type": "register_application",
            "vacancy_id": str(ref.other_vacancy_id),
            "applicant_id": str(applicant_id),
        },
    )
    assert second.application_id is not None
    for step in ("delete_application", "purge_application"):
        assert (
            run(db, tenant.organisation_id, {"type": step, "application_id": str(first)}).status
            == "succeeded"
        )
    assert _get(db, Application, first) is None
    assert _get(db, Applicant, applicant_id) is not None
    for step in ("delete_application", "purge_application"):
        assert (
            run(
                db,
                tenant.organisation_id,
                {"type": step, "application_id": str(second.application_id)},
            ).status
            == "succeeded"
        )
    assert _get(db, Applicant, applicant_id) is None


def test_after_a_purge_only_a_pii_free_history_remains_and_commands_find_nothing(
    db: Database, tenant: Tenant
) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    app = _register(db, tenant, ref.vacancy_id, application_text="Canary-motivation-2")
    run(
        db,
        tenant.organisation_id,
        {"type": "withdraw_application", "application_id": str(app), "note": "Canary-note"},
    )
    run(db, tenant.organisation_id, {"type": "delete_application", "application_id": str(app)})
    run(db, tenant.organisation_id, {"type": "purge_application", "application_id": str(app)})
    with db.transaction() as session:
        history = session.execute(
            select(ApplicationEvent.event_type, ApplicationEvent.note, ApplicationEvent.reason)
            .where(ApplicationEvent.application_id == app)
            .order_by(ApplicationEvent.occurred_at, ApplicationEvent.id)
        ).all()
        payloads = session.scalars(
            select(CommandRecord.payload).where(CommandRecord.application_id == app)
        ).all()
    assert [h.event_type for h in history][-1] == "application.purged"
    assert all(h.note is None and h.reason is None for h in history)
    assert all(p == {"erased": True} for p in payloads)
    later = run(
        db, tenant.organisation_id, {"type": "restore_application", "application_id": str(app)}
    )
    assert (later.status, later.outcome_code) == ("rejected", "not_found")
