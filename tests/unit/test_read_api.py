"""Reading applications and employees: lists a page at a time, one by id, per organisation."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from services.command_api.api_keys import Scope
from shared.db.database import Database
from shared.db.models import Application
from tests.conftest import Tenant, make_tenant
from tests.factories import open_vacancy
from tests.read_rows import a_rejection_reason, applications, department_with_position, employee


def _walk(
    client: TestClient, tenant: Tenant, path: str, **params: Any
) -> list[list[dict[str, Any]]]:
    """Every page of a list, following ``next_cursor`` until it is null."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query, headers=tenant.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "the cursor never ends"


def _ids(pages: list[list[dict[str, Any]]]) -> list[str]:
    return [item["id"] for page in pages for item in page]


def _delete(db: Database, application_ids: list[uuid.UUID]) -> datetime:
    deleted_at = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    with db.transaction() as session:
        session.execute(
            update(Application)
            .where(Application.id.in_(application_ids))
            .values(deleted_at=deleted_at)
        )
    return deleted_at


# -- the list of applications -----------------------------------------------------------


def test_applications_are_listed_with_their_applicants_name(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given two applications for a vacancy
    vacancy = open_vacancy(db, tenant.organisation_id)
    ids = applications(db, tenant.organisation_id, vacancy, 2, name="Bram")
    # When the recruiter lists the applications
    body = client.get("/v1/applications", headers=tenant.headers).json()
    # Then both are there, oldest id first, with what a list needs to show
    assert [item["id"] for item in body["items"]] == sorted(str(i) for i in ids)
    assert body["next_cursor"] is None
    first = body["items"][0]
    assert set(first) == {
        "id",
        "vacancy_id",
        "applicant_id",
        "applicant_name",
        "status",
        "version",
        "created_at",
        "updated_at",
        "deleted_at",
    }
    assert first["vacancy_id"] == str(vacancy)
    assert first["status"] == "received"
    assert first["deleted_at"] is None
    assert {item["applicant_name"] for item in body["items"]} == {"Bram 1", "Bram 2"}


def test_paging_through_seven_applications_three_at_a_time_returns_each_once(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given seven applications
    vacancy = open_vacancy(db, tenant.organisation_id)
    ids = applications(db, tenant.organisation_id, vacancy, 7)
    # When the recruiter walks the list three at a time
    pages = _walk(client, tenant, "/v1/applications", limit=3)
    # Then the pages hold 3, 3 and 1, in id order, with no duplicate and no gap
    assert [len(page) for page in pages] == [3, 3, 1]
    assert _ids(pages) == sorted(str(i) for i in ids)


def test_a_last_page_that_is_exactly_full_has_no_next_cursor(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given six applications
    vacancy = open_vacancy(db, tenant.organisation_id)
    applications(db, tenant.organisation_id, vacancy, 6)
    # When they are walked three at a time
    pages = _walk(client, tenant, "/v1/applications", limit=3)
    # Then there are two pages, and no empty third one
    assert [len(page) for page in pages] == [3, 3]


def test_an_application_added_while_paging_is_not_missed(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given a first page of two out of three applications
    vacancy = open_vacancy(db, tenant.organisation_id)
    before = applications(db, tenant.organisation_id, vacancy, 3)
    first = client.get("/v1/applications", params={"limit": 2}, headers=tenant.headers).json()
    # When a new application arrives, a millisecond later (ids order by millisecond), before
    # the next page is read
    time.sleep(0.002)
    after = applications(db, tenant.organisation_id, vacancy, 1, name="Late")
    rest = _walk(client, tenant, "/v1/applications", limit=2, cursor=first["next_cursor"])
    # Then the walk still sees every application once, the newcomer last
    seen = [item["id"] for item in first["items"]] + _ids(rest)
    assert seen == [*sorted(str(i) for i in before), str(after[0])]


def test_the_list_is_filtered_by_vacancy_and_status(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given applications on two vacancies, some of them withdrawn
    nurses = open_vacancy(db, tenant.organisation_id, "Nurse")
    welders = open_vacancy(db, tenant.organisation_id, "Welder")
    received = applications(db, tenant.organisation_id, nurses, 2)
    withdrawn = applications(db, tenant.organisation_id, nurses, 2, status="withdrawn")
    applications(db, tenant.organisation_id, welders, 3)
    # When the recruiter filters by vacancy, and by vacancy and status
    by_vacancy = _walk(client, tenant, "/v1/applications", vacancy_id=str(nurses))
    by_both = _walk(client, tenant, "/v1/applications", vacancy_id=str(nurses), status="withdrawn")
    # Then each filter narrows the list
    assert _ids(by_vacancy) == sorted(str(i) for i in received + withdrawn)
    assert _ids(by_both) == sorted(str(i) for i in withdrawn)
    assert all(item["status"] == "withdrawn" for item in by_both[0])


def test_an_unknown_status_filter_is_a_422_naming_the_status(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.get("/v1/applications", params={"status": "sleeping"}, headers=tenant.headers)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["status"]


def test_deleted_applications_appear_only_on_the_deleted_list(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given five applications, two of which were deleted
    vacancy = open_vacancy(db, tenant.organisation_id)
    ids = applications(db, tenant.organisation_id, vacancy, 5)
    deleted_at = _delete(db, ids[:2])
    # When the recruiter lists applications, and deleted applications
    active = _walk(client, tenant, "/v1/applications")
    deleted = _walk(client, tenant, "/v1/applications/deleted", limit=1)
    # Then the deleted ones are only on the deleted list, with when they were deleted
    assert _ids(active) == sorted(str(i) for i in ids[2:])
    assert _ids(deleted) == sorted(str(i) for i in ids[:2])
    assert [len(page) for page in deleted] == [1, 1]
    assert all(datetime.fromisoformat(page[0]["deleted_at"]) == deleted_at for page in deleted)


def test_the_deleted_list_is_filtered_by_vacancy(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    nurses = open_vacancy(db, tenant.organisation_id, "Nurse")
    welders = open_vacancy(db, tenant.organisation_id, "Welder")
    nurse_ids = applications(db, tenant.organisation_id, nurses, 2)
    _delete(db, nurse_ids + applications(db, tenant.organisation_id, welders, 2))
    pages = _walk(client, tenant, "/v1/applications/deleted", vacancy_id=str(nurses))
    assert _ids(pages) == sorted(str(i) for i in nurse_ids)


def test_another_organisations_applications_are_never_listed(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given applications of another organisation, one of them deleted
    other = make_tenant(db, name="Other")
    theirs = applications(db, other.organisation_id, open_vacancy(db, other.organisation_id), 3)
    _delete(db, theirs[:1])
    mine = applications(db, tenant.organisation_id, open_vacancy(db, tenant.organisation_id), 1)
    # When this organisation lists, even filtering on the other's vacancy
    listed = _walk(client, tenant, "/v1/applications")
    deleted = _walk(client, tenant, "/v1/applications/deleted")
    # Then it sees only its own
    assert _ids(listed) == [str(mine[0])]
    assert _ids(deleted) == []


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "!!!!",
        "abc",
        base64.urlsafe_b64encode(b"x" * 15).decode(),
        base64.urlsafe_b64encode(uuid.uuid4().bytes).decode(),  # padded: not ours
        "é" * 22,
        "A" * 65,
    ],
)
def test_a_malformed_cursor_is_a_422_naming_the_cursor(
    client: TestClient, tenant: Tenant, cursor: str
) -> None:
    # When a list is asked for with a cursor this API never handed out
    response = client.get("/v1/applications", params={"cursor": cursor}, headers=tenant.headers)
    # Then the problem names the cursor
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["cursor"]


@pytest.mark.parametrize("limit", [0, 201, -1])
def test_a_limit_outside_1_to_200_is_a_422_naming_the_limit(
    client: TestClient, tenant: Tenant, limit: int
) -> None:
    response = client.get("/v1/applications", params={"limit": limit}, headers=tenant.headers)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["limit"]


# -- one application --------------------------------------------------------------------


def test_a_rejected_transferred_deleted_application_shows_all_three(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given an application that was rejected for a reason, came from a transfer, and was deleted
    vacancy = open_vacancy(db, tenant.organisation_id)
    origin = applications(db, tenant.organisation_id, vacancy, 1)[0]
    reason = a_rejection_reason(db, tenant.organisation_id)
    (application,) = applications(
        db,
        tenant.organisation_id,
        open_vacancy(db, tenant.organisation_id, "Welder"),
        1,
        status="rejected",
        status_before="received",
        rejection_type="by_company",
        rejection_reason_id=reason,
        rejection_note="Needs a welding certificate",
        transferred_from_id=origin,
    )
    deleted_at = _delete(db, [application])
    # When it is read
    body = client.get(f"/v1/applications/{application}", headers=tenant.headers).json()
    # Then it tells why it was rejected, where it came from and when it was deleted
    assert body["rejection"] == {
        "type": "by_company",
        "reason_id": str(reason),
        "note": "Needs a welding certificate",
    }
    assert body["transferred_from_id"] == str(origin)
    assert body["deleted"] is True
    assert datetime.fromisoformat(body["deleted_at"]) == deleted_at
    assert body["status"] == "rejected"
    assert body["history"] == []


def test_an_application_that_was_not_rejected_has_no_rejection(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    (application,) = applications(
        db, tenant.organisation_id, open_vacancy(db, tenant.organisation_id), 1
    )
    body = client.get(f"/v1/applications/{application}", headers=tenant.headers).json()
    assert body["rejection"] is None
    assert body["transferred_from_id"] is None
    assert body["deleted_at"] is None
    assert body["deleted"] is False


def test_another_organisations_application_answers_404(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    other = make_tenant(db, name="Other")
    (theirs,) = applications(db, other.organisation_id, open_vacancy(db, other.organisation_id), 1)
    response = client.get(f"/v1/applications/{theirs}", headers=tenant.headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


# -- employees --------------------------------------------------------------------------


def test_employees_are_listed_a_page_at_a_time_and_read_one_by_one(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given five hired applicants
    organisation = tenant.organisation_id
    department, position = department_with_position(db, organisation)
    hired = applications(db, organisation, open_vacancy(db, organisation), 5, status="hired")
    ids = [
        employee(db, organisation, a, department_id=department, position_id=position) for a in hired
    ]
    # When the employees are walked two at a time
    pages = _walk(client, tenant, "/v1/employees", limit=2)
    # Then each comes once, and one can be read with where it works and since when
    assert [len(page) for page in pages] == [2, 2, 1]
    assert _ids(pages) == sorted(str(i) for i in ids)
    one = client.get(f"/v1/employees/{ids[0]}", headers=tenant.headers).json()
    assert one["application_id"] == str(hired[0])
    assert one["position_id"] == str(position)
    assert one["department_id"] == str(department)
    assert one["start_date"] == "2027-01-04"
    assert one["end_date"] is None
    assert set(one) == {
        "id",
        "applicant_id",
        "application_id",
        "position_id",
        "department_id",
        "start_date",
        "end_date",
        "created_at",
    }


def test_another_organisations_employees_are_not_listed_and_answer_404(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given an employee of another organisation
    other = make_tenant(db, name="Other")
    department, position = department_with_position(db, other.organisation_id)
    (hired,) = applications(
        db, other.organisation_id, open_vacancy(db, other.organisation_id), 1, status="hired"
    )
    theirs = employee(
        db, other.organisation_id, hired, department_id=department, position_id=position
    )
    # Then this organisation neither lists nor reads it
    listed = client.get("/v1/employees", headers=tenant.headers).json()
    assert listed == {"items": [], "next_cursor": None}
    assert client.get(f"/v1/employees/{theirs}", headers=tenant.headers).status_code == 404
    assert client.get(f"/v1/employees/{theirs}", headers=other.headers).status_code == 200


# -- scopes -----------------------------------------------------------------------------


def test_reading_applications_and_employees_needs_their_scopes(
    client: TestClient, db: Database
) -> None:
    # Given a key that may only read commands
    reader = make_tenant(db, scopes=[Scope.COMMANDS_READ])
    # Then the lists and the single reads are forbidden, naming the scope
    for path, scope in [
        ("/v1/applications", "applications:read"),
        ("/v1/applications/deleted", "applications:read"),
        (f"/v1/applications/{uuid.uuid4()}", "applications:read"),
        ("/v1/employees", "employees:read"),
        (f"/v1/employees/{uuid.uuid4()}", "employees:read"),
    ]:
        response = client.get(path, headers=reader.headers)
        assert response.status_code == 403, path
        assert scope in response.json()["detail"]


def test_an_employees_reader_cannot_read_applications(client: TestClient, db: Database) -> None:
    reader = make_tenant(db, scopes=[Scope.EMPLOYEES_READ])
    assert client.get("/v1/employees", headers=reader.headers).status_code == 200
    assert client.get("/v1/applications", headers=reader.headers).status_code == 403
