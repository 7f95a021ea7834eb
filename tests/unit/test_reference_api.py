"""Reference data: departments, positions, rejection reasons, and vacancies placed in them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.command_api.api_keys import Scope
from services.command_api.default_reasons import DEFAULT_REJECTION_REASONS
from shared.db.database import Database
from shared.db.models import Department, Position, RejectionReason
from tests.conftest import Tenant, make_tenant
from tests.factories import new_key


def _post(
    client: TestClient, tenant: Tenant, path: str, body: Any = None, *, key: str | None = None
) -> httpx.Response:
    headers = {**tenant.headers, "Idempotency-Key": key or new_key()}
    response: httpx.Response = client.post(path, json=body, headers=headers)
    return response


def _department(client: TestClient, tenant: Tenant, name: str = "Care") -> str:
    response = _post(client, tenant, "/v1/departments", {"name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _position(client: TestClient, tenant: Tenant, department_id: str, title: str) -> str:
    body = {"title": title, "department_id": department_id}
    response = _post(client, tenant, "/v1/positions", body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in response.json()["errors"]]


# -- default rejection reasons ------------------------------------------------------------


def test_a_new_organisation_starts_with_the_default_rejection_reasons_in_both_locales(
    client: TestClient, tenant: Tenant
) -> None:
    # Given a newly created organisation (the tenant fixture)
    # When it lists its rejection reasons
    reasons = client.get("/v1/rejection-reasons", headers=tenant.headers).json()["items"]
    # Then it has the defaults, active, each labelled in Dutch and in English
    labels = {(r["rejection_type"], r["label_en"], r["label_nl"]) for r in reasons}
    assert labels == {(d.rejection_type, d.label_en, d.label_nl) for d in DEFAULT_REJECTION_REASONS}
    assert ("by_candidate", "Accepted another job", "Heeft een andere baan aangenomen") in labels
    assert ("by_company", "Position filled internally", "Functie intern ingevuld") in labels
    assert ("unspecified", "Other", "Overig") in labels
    assert all(r["active"] for r in reasons)
    types = [r["rejection_type"] for r in reasons]
    assert types == sorted(types), "grouped by type"
    assert {t: types.count(t) for t in set(types)} == {
        "by_company": 4,
        "by_candidate": 3,
        "unspecified": 1,
    }


def test_each_organisation_gets_its_own_copy_of_the_defaults(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given a second organisation
    other = make_tenant(db, name="Other")
    # Then each has its own reasons, so deactivating one touches only its owner
    mine = client.get("/v1/rejection-reasons", headers=tenant.headers).json()["items"]
    theirs = client.get("/v1/rejection-reasons", headers=other.headers).json()["items"]
    assert len(mine) == len(theirs) == len(DEFAULT_REJECTION_REASONS)
    assert not {r["id"] for r in mine} & {r["id"] for r in theirs}
    assert _count(db, RejectionReason) == 2 * len(DEFAULT_REJECTION_REASONS)


# -- departments --------------------------------------------------------------------------


def test_a_department_is_created_read_and_listed(client: TestClient, tenant: Tenant) -> None:
    # When two departments are created
    created = _post(client, tenant, "/v1/departments", {"name": "  Nursing  "})
    _department(client, tenant, "Administration")
    # Then the first answers 201 with its location, trimmed name and id
    assert created.status_code == 201
    body = created.json()
    assert created.headers["Location"] == f"/v1/departments/{body['id']}"
    assert body["name"] == "Nursing"
    # And it can be read, and both are listed by name
    read = client.get(created.headers["Location"], headers=tenant.headers)
    assert read.json() == body
    listed = client.get("/v1/departments", headers=tenant.headers).json()["items"]
    assert [d["name"] for d in listed] == ["Administration", "Nursing"]


def test_the_same_key_and_body_creates_one_department(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given a department created with a key
    key = new_key()
    first = _post(client, tenant, "/v1/departments", {"name": "Care"}, key=key)
    # When the client retries with the same key and body
    second = _post(client, tenant, "/v1/departments", {"name": "Care"}, key=key)
    # Then it gets the first answer again, and there is one department
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotency-Replayed"] == "true"
    assert _count(db, Department) == 1
    # And the same key with another body is refused
    reused = _post(client, tenant, "/v1/departments", {"name": "Kitchen"}, key=key)
    assert reused.status_code == 422
    assert reused.json()["title"] == "Idempotency-Key reused"


def test_creating_reference_data_requires_an_idempotency_key(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    for path, body in [
        ("/v1/departments", {"name": "Care"}),
        ("/v1/positions", {"title": "Nurse", "department_id": str(uuid.uuid4())}),
        (
            "/v1/rejection-reasons",
            {"rejection_type": "by_company", "label_nl": "Te laat", "label_en": "Too late"},
        ),
        (f"/v1/rejection-reasons/{uuid.uuid4()}/deactivate", None),
    ]:
        response = client.post(path, json=body, headers=tenant.headers)
        assert response.status_code == 400, path
        assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert _count(db, Department) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "Care\nKitchen"}, "name"),
        ({}, "name"),
        ({"name": "Care", "colour": "red"}, "colour"),
    ],
)
def test_an_invalid_department_is_refused_naming_the_field(
    client: TestClient, db: Database, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = _post(client, tenant, "/v1/departments", body)
    assert _fields(response) == [field]
    assert _count(db, Department) == 0


# -- positions ----------------------------------------------------------------------------


def test_positions_are_created_in_a_department_and_listed_per_department(
    client: TestClient, tenant: Tenant
) -> None:
    # Given two departments with positions
    care, kitchen = _department(client, tenant, "Care"), _department(client, tenant, "Kitchen")
    nurse = _position(client, tenant, care, "Nurse")
    _position(client, tenant, care, "Carer")
    _position(client, tenant, kitchen, "Cook")
    # When the positions are listed, all and per department
    every = client.get("/v1/positions", headers=tenant.headers).json()["items"]
    in_care = client.get(
        "/v1/positions", params={"department_id": care}, headers=tenant.headers
    ).json()["items"]
    # Then the filter narrows the list, by title
    assert [p["title"] for p in every] == ["Carer", "Cook", "Nurse"]
    assert [p["title"] for p in in_care] == ["Carer", "Nurse"]
    assert {p["department_id"] for p in in_care} == {care}
    # And one position can be read
    read = client.get(f"/v1/positions/{nurse}", headers=tenant.headers).json()
    assert read["title"] == "Nurse"
    assert read["department_id"] == care


def test_a_position_in_another_organisations_department_is_refused_naming_the_field(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given a department of another organisation
    other = make_tenant(db, name="Other")
    theirs = _department(client, other, "Their care")
    # When this organisation creates a position in it, or in a department that does not exist
    for department_id in [theirs, str(uuid.uuid4())]:
        response = _post(
            client, tenant, "/v1/positions", {"title": "Nurse", "department_id": department_id}
        )
        # Then the problem names the department, and nothing is stored
        assert _fields(response) == ["department_id"]
        assert response.json()["errors"][0]["code"] == "not_found"
    assert _count(db, Position) == 0


def test_an_invalid_position_is_refused_naming_each_field(
    client: TestClient, tenant: Tenant
) -> None:
    response = _post(client, tenant, "/v1/positions", {"title": "", "department_id": "nope"})
    assert sorted(_fields(response)) == ["department_id", "title"]


# -- rejection reasons --------------------------------------------------------------------


def test_a_rejection_reason_is_added_and_listed_by_type(client: TestClient, tenant: Tenant) -> None:
    # When the organisation adds a reason of its own
    created = _post(
        client,
        tenant,
        "/v1/rejection-reasons",
        {"rejection_type": "by_candidate", "label_nl": "Verhuisd", "label_en": "Moved away"},
    )
    # Then it is active and listed among that type's reasons
    assert created.status_code == 201
    reason = created.json()
    assert reason["active"] is True
    assert created.headers["Location"] == f"/v1/rejection-reasons/{reason['id']}"
    assert client.get(created.headers["Location"], headers=tenant.headers).json() == reason
    by_candidate = client.get(
        "/v1/rejection-reasons", params={"rejection_type": "by_candidate"}, headers=tenant.headers
    ).json()["items"]
    assert reason in by_candidate
    assert {r["rejection_type"] for r in by_candidate} == {"by_candidate"}
    assert len(by_candidate) == 4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rejection_type": "by_robot", "label_nl": "A", "label_en": "A"}, "rejection_type"),
        ({"rejection_type": "by_company", "label_nl": "", "label_en": "A"}, "label_nl"),
        ({"rejection_type": "by_company", "label_nl": "A", "label_en": "a\x00b"}, "label_en"),
        ({"rejection_type": "by_company", "label_nl": "A"}, "label_en"),
    ],
)
def test_an_invalid_rejection_reason_is_refused_naming_the_field(
    client: TestClient, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = _post(client, tenant, "/v1/rejection-reasons", body)
    assert _fields(response) == [field]


def test_an_unknown_rejection_type_filter_is_a_422_naming_it(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.get(
        "/v1/rejection-reasons", params={"rejection_type": "by_robot"}, headers=tenant.headers
    )
    assert _fields(response) == ["rejection_type"]


def test_a_deactivated_reason_is_kept_but_listed_only_on_request(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given the organisation's default reasons
    reasons = client.get("/v1/rejection-reasons", headers=tenant.headers).json()["items"]
    reason_id = reasons[0]["id"]
    # When one is deactivated, twice (the second time with another key)
    first = _post(client, tenant, f"/v1/rejection-reasons/{reason_id}/deactivate")
    again = _post(client, tenant, f"/v1/rejection-reasons/{reason_id}/deactivate")
    # Then it is inactive, the second time a no-op, and nothing was deleted
    assert first.status_code == again.status_code == 200
    assert first.json()["active"] is False
    assert again.json() == first.json()
    assert _count(db, RejectionReason) == len(DEFAULT_REJECTION_REASONS)
    # And it is left out of the list, unless inactive ones are asked for
    active = client.get("/v1/rejection-reasons", headers=tenant.headers).json()["items"]
    everything = client.get(
        "/v1/rejection-reasons", params={"include_inactive": "true"}, headers=tenant.headers
    ).json()["items"]
    assert reason_id not in {r["id"] for r in active}
    assert len(active) == len(DEFAULT_REJECTION_REASONS) - 1
    assert {r["id"]: r["active"] for r in everything}[reason_id] is False
    assert len(everything) == len(DEFAULT_REJECTION_REASONS)


# -- another organisation's ids, and scopes -----------------------------------------------


def test_another_organisations_reference_data_answers_404(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given another organisation's department, position and reason
    other = make_tenant(db, name="Other")
    department = _department(client, other)
    position = _position(client, other, department, "Nurse")
    reason = client.get("/v1/rejection-reasons", headers=other.headers).json()["items"][0]["id"]
    # When this organisation reads them, or deactivates the reason
    for path in [
        f"/v1/departments/{department}",
        f"/v1/positions/{position}",
        f"/v1/rejection-reasons/{reason}",
    ]:
        response = client.get(path, headers=tenant.headers)
        # Then each is not found
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
    deactivate = _post(client, tenant, f"/v1/rejection-reasons/{reason}/deactivate")
    assert deactivate.status_code == 404
    # And nothing of theirs is listed or changed
    assert client.get("/v1/departments", headers=tenant.headers).json()["items"] == []
    assert client.get("/v1/positions", headers=tenant.headers).json()["items"] == []
    assert client.get(f"/v1/rejection-reasons/{reason}", headers=other.headers).json()["active"]


def test_reference_data_needs_the_reference_scopes(client: TestClient, db: Database) -> None:
    # Given a key that may read reference data but not write it, and one that may do neither
    reader = make_tenant(db, scopes=[Scope.REFERENCE_READ], name="Reader")
    stranger = make_tenant(db, scopes=[Scope.VACANCIES_READ], name="Stranger")
    # Then the reader may list but not create or deactivate
    assert client.get("/v1/departments", headers=reader.headers).status_code == 200
    for path, body in [
        ("/v1/departments", {"name": "Care"}),
        ("/v1/positions", {"title": "Nurse", "department_id": str(uuid.uuid4())}),
        (
            "/v1/rejection-reasons",
            {"rejection_type": "by_company", "label_nl": "Te laat", "label_en": "Too late"},
        ),
        (f"/v1/rejection-reasons/{uuid.uuid4()}/deactivate", None),
    ]:
        response = _post(client, reader, path, body)
        assert response.status_code == 403, path
        assert "reference:write" in response.json()["detail"]
    # And the stranger may not even read
    for path in ["/v1/departments", "/v1/positions", "/v1/rejection-reasons"]:
        response = client.get(path, headers=stranger.headers)
        assert response.status_code == 403, path
        assert "reference:read" in response.json()["detail"]


# -- vacancies in a department and position -----------------------------------------------


def test_a_vacancy_is_created_in_a_department_and_position(
    client: TestClient, tenant: Tenant
) -> None:
    # Given a department with a position
    care = _department(client, tenant)
    nurse = _position(client, tenant, care, "Nurse")
    # When a vacancy is created there
    created = _post(
        client,
        tenant,
        "/v1/vacancies",
        {"title": "Night nurse", "department_id": care, "position_id": nurse},
    )
    # Then it shows both, also when read back
    assert created.status_code == 201
    assert created.json()["department_id"] == care
    assert created.json()["position_id"] == nurse
    read = client.get(created.headers["Location"], headers=tenant.headers).json()
    assert (read["department_id"], read["position_id"]) == (care, nurse)


def test_a_vacancy_with_a_position_alone_takes_the_positions_department(
    client: TestClient, tenant: Tenant
) -> None:
    care = _department(client, tenant)
    nurse = _position(client, tenant, care, "Nurse")
    created = _post(client, tenant, "/v1/vacancies", {"title": "Nurse", "position_id": nurse})
    assert created.status_code == 201
    assert created.json()["department_id"] == care


def test_a_vacancy_without_placement_has_neither(client: TestClient, tenant: Tenant) -> None:
    created = _post(client, tenant, "/v1/vacancies", {"title": "Welder"}).json()
    assert created["department_id"] is None
    assert created["position_id"] is None


def test_a_vacancy_whose_position_is_in_another_department_is_refused(
    client: TestClient, tenant: Tenant
) -> None:
    # Given a position in the kitchen
    care, kitchen = _department(client, tenant, "Care"), _department(client, tenant, "Kitchen")
    cook = _position(client, tenant, kitchen, "Cook")
    # When a vacancy puts it in care
    response = _post(
        client,
        tenant,
        "/v1/vacancies",
        {"title": "Cook", "department_id": care, "position_id": cook},
    )
    # Then the problem names the position
    assert _fields(response) == ["position_id"]
    assert response.json()["errors"][0]["code"] == "department_mismatch"
    assert client.get("/v1/vacancies", headers=tenant.headers).json()["items"] == []


def test_a_vacancy_in_another_organisations_department_or_position_is_refused(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given another organisation's department and position
    other = make_tenant(db, name="Other")
    theirs = _department(client, other)
    their_position = _position(client, other, theirs, "Nurse")
    # When this organisation places a vacancy in them
    in_department = _post(
        client, tenant, "/v1/vacancies", {"title": "Nurse", "department_id": theirs}
    )
    in_position = _post(
        client, tenant, "/v1/vacancies", {"title": "Nurse", "position_id": their_position}
    )
    # Then each problem names its field, and no vacancy is created
    assert _fields(in_department) == ["department_id"]
    assert _fields(in_position) == ["position_id"]
    assert client.get("/v1/vacancies", headers=tenant.headers).json()["items"] == []


def test_a_closed_vacancy_can_be_reopened(client: TestClient, db: Database, tenant: Tenant) -> None:
    # Given a closed vacancy
    vacancy = _post(client, tenant, "/v1/vacancies", {"title": "Welder"}).json()["id"]
    _post(client, tenant, f"/v1/vacancies/{vacancy}/close")
    # When it is reopened, twice
    reopened = _post(client, tenant, f"/v1/vacancies/{vacancy}/open")
    again = _post(client, tenant, f"/v1/vacancies/{vacancy}/open")
    # Then it is open again with no closing time, and the second time changes nothing
    assert reopened.status_code == again.status_code == 200
    assert reopened.json()["status"] == "open"
    assert reopened.json()["closed_at"] is None
    assert again.json() == reopened.json()
    assert reopened.headers["Location"] == f"/v1/vacancies/{vacancy}"
    # And another organisation cannot reopen it
    other = make_tenant(db, name="Other")
    _post(client, tenant, f"/v1/vacancies/{vacancy}/close")
    assert _post(client, other, f"/v1/vacancies/{vacancy}/open").status_code == 404
    read = client.get(f"/v1/vacancies/{vacancy}", headers=tenant.headers).json()
    assert read["status"] == "closed"


def test_reopening_needs_an_idempotency_key_and_the_vacancies_write_scope(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    vacancy = _post(client, tenant, "/v1/vacancies", {"title": "Welder"}).json()["id"]
    missing_key = client.post(f"/v1/vacancies/{vacancy}/open", headers=tenant.headers)
    assert missing_key.status_code == 400
    reader = make_tenant(db, scopes=[Scope.VACANCIES_READ], name="Reader")
    assert _post(client, reader, f"/v1/vacancies/{vacancy}/open").status_code == 403


# -- editing ------------------------------------------------------------------------------


def _put(client: TestClient, tenant: Tenant, path: str, body: Any) -> httpx.Response:
    headers = {**tenant.headers, "Idempotency-Key": new_key()}
    response: httpx.Response = client.put(path, json=body, headers=headers)
    return response


def test_a_vacancy_is_retitled_and_moved_and_stays_closed(
    client: TestClient, tenant: Tenant
) -> None:
    department = _department(client, tenant)
    position = _position(client, tenant, department, "Nurse")
    vacancy = _post(client, tenant, "/v1/vacancies", {"title": "Nurce"}).json()["id"]
    _post(client, tenant, f"/v1/vacancies/{vacancy}/close")

    edited = _put(
        client, tenant, f"/v1/vacancies/{vacancy}", {"title": "Nurse", "position_id": position}
    )

    assert edited.status_code == 200, edited.text
    shown = client.get(f"/v1/vacancies/{vacancy}", headers=tenant.headers).json()
    assert (shown["title"], shown["department_id"], shown["position_id"], shown["status"]) == (
        "Nurse",
        department,
        position,
        "closed",
    )


def test_a_department_is_renamed_and_a_reason_reworded_but_keeps_its_type(
    client: TestClient, tenant: Tenant
) -> None:
    department = _department(client, tenant, "Zorg")
    reason = _post(
        client,
        tenant,
        "/v1/rejection-reasons",
        {"rejection_type": "by_company", "label_nl": "Te laat", "label_en": "Too late"},
    ).json()["id"]

    renamed = _put(client, tenant, f"/v1/departments/{department}", {"name": "Care"})
    reworded = _put(
        client,
        tenant,
        f"/v1/rejection-reasons/{reason}/labels",
        {"label_nl": "Vacature vervuld", "label_en": "Position filled"},
    )
    retyped = _put(
        client,
        tenant,
        f"/v1/rejection-reasons/{reason}/labels",
        {"label_nl": "x", "label_en": "y", "rejection_type": "by_candidate"},
    )

    assert renamed.json()["name"] == "Care"
    assert (reworded.json()["label_en"], reworded.json()["rejection_type"]) == (
        "Position filled",
        "by_company",
    )
    assert _fields(retyped) == ["rejection_type"]


def test_editing_is_scoped_to_the_organisation_and_checks_placement(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    vacancy = _post(client, tenant, "/v1/vacancies", {"title": "Nurse"}).json()["id"]
    department = _department(client, tenant)
    other = make_tenant(db, name="Other")
    theirs = _department(client, other)

    assert _put(client, other, f"/v1/vacancies/{vacancy}", {"title": "Mine"}).status_code == 404
    assert _put(client, other, f"/v1/departments/{department}", {"name": "X"}).status_code == 404
    moved = _put(
        client, tenant, f"/v1/vacancies/{vacancy}", {"title": "N", "department_id": theirs}
    )
    assert _fields(moved) == ["department_id"]
    assert client.get(f"/v1/vacancies/{vacancy}", headers=tenant.headers).json()["title"] == "Nurse"
