"""Every command from every status, deleted or not, through the real handlers.

The expected outcomes are transcribed from the matrix in the product spec, not
derived from the transition table under test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from shared.db.database import Database
from shared.db.models import Application
from shared.statuses import ApplicationStatus as S
from tests.conftest import fresh_sqlite, make_tenant
from tests.seeds import Reference, seed_application, seed_reference
from tests.workflow import run

ACTIVE = {S.RECEIVED, S.INTERVIEW, S.OFFERED, S.SAVED}
ALL = set(S)
SOON = (datetime.now(UTC) + timedelta(days=7)).isoformat()
START = (datetime.now(UTC) + timedelta(days=40)).date().isoformat()
KEEP, BEFORE, GONE = "unchanged", "status before", "purged"

Body = Callable[[Reference], dict[str, Any]]

# command (and variant) -> (body, allowed from, result), as in the spec's matrix.
MATRIX: dict[str, tuple[str, Body, set[S], object]] = {
    "withdraw": ("withdraw_application", lambda r: {}, ACTIVE, S.WITHDRAWN),
    "delete": ("delete_application", lambda r: {}, ALL - {S.HIRED}, KEEP),
    "invite": (
        "invite_to_interview",
        lambda r: {"interview_type": "phone", "start": SOON, "duration_minutes": 30},
        {S.RECEIVED, S.INTERVIEW, S.SAVED},
        S.INTERVIEW,
    ),
    "reject": (
        "reject_application",
        lambda r: {"rejection_type": "by_company", "reason_id": str(r.reason_id)},
        ACTIVE,
        S.REJECTED,
    ),
    "unreject": ("unreject_application", lambda r: {}, {S.REJECTED}, BEFORE),
    "save": ("save_application", lambda r: {}, {S.RECEIVED, S.INTERVIEW}, S.SAVED),
    "credentials": (
        "save_and_send_credentials",
        lambda r: {},
        {S.RECEIVED, S.INTERVIEW, S.SAVED},
        S.SAVED,
    ),
    "transfer-move": (
        "transfer_application",
        lambda r: {"target_vacancy_id": str(r.other_vacancy_id), "mode": "move"},
        ACTIVE,
        S.TRANSFERRED,
    ),
    "transfer-copy": (
        "transfer_application",
        lambda r: {"target_vacancy_id": str(r.other_vacancy_id), "mode": "copy"},
        ACTIVE,
        KEEP,
    ),
    "offer": (
        "send_offer",
        lambda r: {
            "salary": {"amount": "3500.00", "currency": "EUR", "period": "month"},
            "start_date": START,
        },
        {S.RECEIVED, S.INTERVIEW, S.SAVED, S.OFFERED},
        S.OFFERED,
    ),
    "offer-accepted": (
        "record_offer_response",
        lambda r: {"response": "accepted"},
        {S.OFFERED},
        KEEP,
    ),
    "offer-declined": (
        "record_offer_response",
        lambda r: {"response": "declined"},
        {S.OFFERED},
        S.WITHDRAWN,
    ),
    "hire": (
        "hire_applicant",
        lambda r: {
            "position_id": str(r.position_id),
            "department_id": str(r.department_id),
            "start_date": START,
        },
        ACTIVE,
        S.HIRED,
    ),
    "send-email": (
        "send_email",
        lambda r: {"subject": "About your application", "text": "Hello"},
        ALL - {S.TRANSFERRED},
        KEEP,
    ),
    "forward-cv": (
        "forward_cv",
        lambda r: {"to": ["manager@example.org"]},
        ALL - {S.TRANSFERRED},
        KEEP,
    ),
    "send-letter": ("send_letter", lambda r: {"letter": "received"}, ALL - {S.TRANSFERRED}, KEEP),
    "send-contract": (
        "send_employment_contract",
        lambda r: {
            "job_title": "Verpleegkundige",
            "salary": {"amount": "3500.00", "currency": "EUR", "period": "month"},
            "hours_per_week": "36",
            "start_date": START,
            "place_of_work": "Utrecht",
        },
        {S.OFFERED, S.HIRED},
        KEEP,
    ),
}
ONLY_WHEN_DELETED: dict[str, tuple[str, object]] = {
    "restore": ("restore_application", KEEP),
    "purge": ("purge_application", GONE),
}


@pytest.fixture(scope="module")
def matrix_db(
    migrated_sqlite: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    database = Database(fresh_sqlite(migrated_sqlite, tmp_path_factory.mktemp("matrix")))
    yield database
    database.dispose()


def _state(db: Database, application_id: uuid.UUID) -> tuple[str, bool] | None:
    with db.transaction() as session:
        row = session.execute(
            select(Application.status, Application.deleted_at).where(
                Application.id == application_id
            )
        ).one_or_none()
    return None if row is None else (row.status, row.deleted_at is not None)


def _case(
    db: Database, status: S, deleted: bool, command_type: str, body: Body
) -> tuple[Any, uuid.UUID]:
    tenant = make_tenant(db)
    reference = seed_reference(db, tenant.organisation_id)
    application_id = seed_application(
        db, tenant.organisation_id, reference.vacancy_id, status, deleted=deleted
    )
    record = run(
        db,
        tenant.organisation_id,
        {"type": command_type, "application_id": str(application_id), **body(reference)},
    )
    return record, application_id


@pytest.mark.parametrize("deleted", [False, True], ids=["listed", "deleted"])
@pytest.mark.parametrize("status", sorted(S), ids=str)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_each_command_from_each_state(
    matrix_db: Database, name: str, status: S, deleted: bool
) -> None:
    command_type, body, allowed, result = MATRIX[name]
    record, application_id = _case(matrix_db, status, deleted, command_type, body)
    if deleted:
        assert (record.status, record.outcome_code) == ("rejected", "deleted")
        assert command_type in record.outcome_message
        assert _state(matrix_db, application_id) == (status, True)
    elif status in allowed:
        assert record.status == "succeeded", record.outcome_message
        expected = {KEEP: status, BEFORE: S.INTERVIEW}.get(result, result)  # type: ignore[call-overload]
        assert _state(matrix_db, application_id) == (expected, name == "delete")
    else:
        assert (record.status, record.outcome_code) == ("rejected", "invalid_transition")
        assert command_type in record.outcome_message
        assert f"'{status}'" in record.outcome_message
        assert _state(matrix_db, application_id) == (status, False)


@pytest.mark.parametrize("deleted", [False, True], ids=["listed", "deleted"])
@pytest.mark.parametrize("status", sorted(S), ids=str)
@pytest.mark.parametrize("name", sorted(ONLY_WHEN_DELETED))
def test_restore_and_purge_act_only_on_deleted_applications(
    matrix_db: Database, name: str, status: S, deleted: bool
) -> None:
    command_type, result = ONLY_WHEN_DELETED[name]
    record, application_id = _case(matrix_db, status, deleted, command_type, lambda r: {})
    if not deleted:
        assert (record.status, record.outcome_code) == ("rejected", "invalid_transition")
        assert command_type in record.outcome_message and f"'{status}'" in record.outcome_message
        assert _state(matrix_db, application_id) == (status, False)
    elif result == GONE:
        assert record.status == "succeeded", record.outcome_message
        assert _state(matrix_db, application_id) is None
    else:
        assert record.status == "succeeded", record.outcome_message
        assert _state(matrix_db, application_id) == (status, False)
