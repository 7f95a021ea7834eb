"""The command API on SQLite: acceptance, idempotency, authentication and tenancy."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.command_api.api_keys import Scope
from shared.db.database import Database
from shared.db.models import CommandRecord, IdempotencyRecord, OutboxMessage
from tests.conftest import Tenant, make_tenant
from tests.factories import new_key, open_vacancy, register_body


def _count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _post(client: TestClient, tenant: Tenant, body: object, key: str | None) -> object:
    headers = dict(tenant.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/v1/commands", json=body, headers=headers)


def test_an_accepted_command_answers_202_with_its_id_and_location(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given an open vacancy
    vacancy = open_vacancy(db, tenant.organisation_id)
    # When a registration is submitted
    response = client.post(
        "/v1/commands",
        json=register_body(vacancy),
        headers={**tenant.headers, "Idempotency-Key": new_key()},
    )
    # Then it is accepted, stored with its outbox row, and can be polled
    assert response.status_code == 202
    body = response.json()
    assert response.headers["Location"] == f"/v1/commands/{body['command_id']}"
    assert body["status"] == "accepted"
    assert uuid.UUID(body["application_id"])
    assert _count(db, CommandRecord) == 1
    assert _count(db, OutboxMessage) == 1
    polled = client.get(response.headers["Location"], headers=tenant.headers)
    assert polled.json()["status"] == "accepted"


def test_the_outbox_message_carries_ids_only(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    vacancy = open_vacancy(db, tenant.organisation_id)
    body = register_body(
        vacancy, applicant={"name": "Canary Pietersen", "email": "canary@example.org"}
    )
    client.post("/v1/commands", json=body, headers={**tenant.headers, "Idempotency-Key": new_key()})
    with db.transaction() as session:
        payload = session.scalars(select(OutboxMessage.payload)).one()
    assert set(payload) == {"command_id", "organisation_id"}
    assert "Canary" not in str(payload)


def test_the_same_key_and_body_replays_the_first_response(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    vacancy = open_vacancy(db, tenant.organisation_id)
    body, key = register_body(vacancy), new_key()
    first = client.post(
        "/v1/commands", json=body, headers={**tenant.headers, "Idempotency-Key": key}
    )
    second = client.post(
        "/v1/commands", json=body, headers={**tenant.headers, "Idempotency-Key": key}
    )
    assert second.status_code == 202
    assert second.json() == first.json()
    assert second.headers["Idempotency-Replayed"] == "true"
    assert "Idempotency-Replayed" not in first.headers
    assert _count(db, CommandRecord) == 1


def test_the_same_key_with_another_body_is_refused_with_422(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    vacancy = open_vacancy(db, tenant.organisation_id)
    key = new_key()
    client.post(
        "/v1/commands",
        json=register_body(vacancy),
        headers={**tenant.headers, "Idempotency-Key": key},
    )
    response = client.post(
        "/v1/commands",
        json=register_body(vacancy),
        headers={**tenant.headers, "Idempotency-Key": key},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Idempotency-Key reused"
    assert _count(db, CommandRecord) == 1


def test_a_missing_idempotency_key_is_a_400_and_stores_nothing(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    vacancy = open_vacancy(db, tenant.organisation_id)
    response = client.post("/v1/commands", json=register_body(vacancy), headers=tenant.headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert _count(db, CommandRecord) == 0


def test_a_malformed_or_repeated_idempotency_key_is_a_400(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    vacancy = open_vacancy(db, tenant.organisation_id)
    for bad in ["", "x" * 256, "has space", "tab\tkey"]:
        response = client.post(
            "/v1/commands",
            json=register_body(vacancy),
            headers={**tenant.headers, "Idempotency-Key": bad},
        )
        assert response.status_code == 400, bad
    repeated = client.post(
        "/v1/commands",
        json=register_body(vacancy),
        headers=[*tenant.headers.items(), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")],
    )
    assert repeated.status_code == 400
    assert "once" in repeated.json()["detail"]
    assert _count(db, IdempotencyRecord) == 0


def test_keys_are_scoped_per_organisation(client: TestClient, db: Database, tenant: Tenant) -> None:
    other = make_tenant(db, name="Other")
    key = new_key()
    first = client.post(
        "/v1/commands",
        json=register_body(open_vacancy(db, tenant.organisation_id)),
        headers={**tenant.headers, "Idempotency-Key": key},
    )
    second = client.post(
        "/v1/commands",
        json=register_body(open_vacancy(db, other.organisation_id)),
        headers={**other.headers, "Idempotency-Key": key},
    )
    assert first.status_code == second.status_code == 202
    assert first.json()["command_id"] != second.json()["command_id"]


def test_an_invalid_body_is_a_problem_listing_each_field(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.post(
        "/v1/commands",
        json={
            "type": "register_application",
            "vacancy_id": "not-a-uuid",
            "applicant": {"name": "", "email": "x"},
        },
        headers={**tenant.headers, "Idempotency-Key": new_key()},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"vacancy_id", "applicant.name", "applicant.email"} <= fields


def test_without_an_api_key_the_answer_is_401(client: TestClient) -> None:
    response = client.get(f"/v1/commands/{uuid.uuid4()}")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    bad = client.get(
        f"/v1/commands/{uuid.uuid4()}", headers={"Authorization": "Bearer wv_nope_nope"}
    )
    assert bad.status_code == 401


def test_a_key_without_the_scope_gets_403(client: TestClient, db: Database) -> None:
    reader = make_tenant(db, scopes=[Scope.COMMANDS_READ])
    response = client.post(
        "/v1/commands",
        json={"type": "withdraw_application", "application_id": str(uuid.uuid4())},
        headers={**reader.headers, "Idempotency-Key": new_key()},
    )
    assert response.status_code == 403
    assert "commands:write" in response.json()["detail"]


def test_another_organisations_command_and_application_are_404(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    accepted = client.post(
        "/v1/commands",
        json=register_body(open_vacancy(db, tenant.organisation_id)),
        headers={**tenant.headers, "Idempotency-Key": new_key()},
    ).json()
    intruder = make_tenant(db, name="Intruder")
    assert (
        client.get(f"/v1/commands/{accepted['command_id']}", headers=intruder.headers).status_code
        == 404
    )
    assert (
        client.get(
            f"/v1/applications/{accepted['application_id']}", headers=intruder.headers
        ).status_code
        == 404
    )
    assert (
        client.get(f"/v1/commands/{accepted['command_id']}", headers=tenant.headers).status_code
        == 200
    )


def test_commands_can_be_found_by_idempotency_key(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    key = new_key()
    accepted = client.post(
        "/v1/commands",
        json=register_body(open_vacancy(db, tenant.organisation_id)),
        headers={**tenant.headers, "Idempotency-Key": key},
    ).json()
    found = client.get(
        "/v1/commands", params={"idempotency_key": key}, headers=tenant.headers
    ).json()
    assert [c["command_id"] for c in found] == [accepted["command_id"]]


def test_vacancies_are_created_listed_and_closed_per_organisation(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    created = client.post(
        "/v1/vacancies",
        json={"title": "Welder"},
        headers={**tenant.headers, "Idempotency-Key": new_key()},
    )
    assert created.status_code == 201
    vacancy_id = created.json()["id"]
    assert created.headers["Location"] == f"/v1/vacancies/{vacancy_id}"
    closed = client.post(
        f"/v1/vacancies/{vacancy_id}/close",
        headers={**tenant.headers, "Idempotency-Key": new_key()},
    )
    assert closed.json()["status"] == "closed"
    listed = client.get("/v1/vacancies", params={"status": "closed"}, headers=tenant.headers).json()
    assert [v["id"] for v in listed["items"]] == [vacancy_id]
    other = make_tenant(db, name="Other")
    assert client.get("/v1/vacancies", headers=other.headers).json()["items"] == []
    assert (
        client.post(
            f"/v1/vacancies/{vacancy_id}/close",
            headers={**other.headers, "Idempotency-Key": new_key()},
        ).status_code
        == 404
    )


def test_health_needs_no_dependency_and_readiness_checks_the_database(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


def test_the_openapi_document_shows_every_command_schema(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"RegisterApplication", "WithdrawApplication"} <= set(schemas)
