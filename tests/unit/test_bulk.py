"""Bulk commands: one request, one command and one outcome per application."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.status_worker.handlers import HANDLERS
from services.status_worker.unit_of_work import run_command
from shared.db.database import Database
from shared.db.models import Application, CommandRecord
from shared.statuses import ApplicationStatus
from tests.conftest import Tenant, make_tenant
from tests.factories import new_key
from tests.seeds import seed_application, seed_reference
from tests.workflow import task_message


def _bulk(client: TestClient, tenant: Tenant, body: object, key: str) -> httpx.Response:
    response: httpx.Response = client.post(
        "/v1/commands/bulk", json=body, headers={**tenant.headers, "Idempotency-Key": key}
    )
    return response


def test_a_bulk_rejection_fans_out_into_one_command_per_application(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given three applications, one of which is already withdrawn
    reference = seed_reference(db, tenant.organisation_id)
    received = [
        seed_application(
            db, tenant.organisation_id, reference.vacancy_id, ApplicationStatus.RECEIVED
        )
        for _ in range(2)
    ]
    withdrawn = seed_application(
        db, tenant.organisation_id, reference.vacancy_id, ApplicationStatus.WITHDRAWN
    )
    ids = [*received, withdrawn]
    key = new_key()
    # When one bulk request rejects all three
    response = _bulk(
        client,
        tenant,
        {
            "application_ids": [str(i) for i in ids],
            "command": {
                "type": "reject_application",
                "rejection_type": "by_company",
                "reason_id": str(reference.reason_id),
            },
        },
        key,
    )
    # Then each application has its own accepted command and derived key
    assert response.status_code == 202
    items = response.json()["items"]
    assert [i["application_id"] for i in items] == [str(i) for i in ids]
    assert [i["idempotency_key"] for i in items] == [f"{key}/{i}" for i in ids]
    assert len({i["command_id"] for i in items}) == 3
    # And once the worker ran them, each has its own outcome
    for item in items:
        run_command(db, task_message(db, item["command_id"]), HANDLERS["reject_application"])
    outcomes = [client.get(i["location"], headers=tenant.headers).json() for i in items]
    assert [(o["status"], o["code"]) for o in outcomes] == [
        ("succeeded", None),
        ("succeeded", None),
        ("rejected", "invalid_transition"),
    ]


def test_replaying_a_bulk_request_creates_nothing_new(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    reference = seed_reference(db, tenant.organisation_id)
    ids = [
        str(
            seed_application(
                db, tenant.organisation_id, reference.vacancy_id, ApplicationStatus.RECEIVED
            )
        )
        for _ in range(3)
    ]
    body = {"application_ids": ids, "command": {"type": "save_application"}}
    key = new_key()
    first = _bulk(client, tenant, body, key)
    again = _bulk(client, tenant, body, key)
    assert again.json() == first.json()
    assert again.headers["Idempotency-Replayed"] == "true"
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(CommandRecord)) == 3


def test_an_invalid_bulk_command_is_refused_whole_with_the_field_named(
    client: TestClient, tenant: Tenant
) -> None:
    import uuid

    response = _bulk(
        client,
        tenant,
        {
            "application_ids": [str(uuid.uuid4())],
            "command": {
                "type": "reject_application",
                "rejection_type": "because",
                "reason_id": str(uuid.uuid4()),
            },
        },
        new_key(),
    )
    assert response.status_code == 422
    assert "command.rejection_type" in {e["field"] for e in response.json()["errors"]}
    registration = _bulk(
        client,
        tenant,
        {"application_ids": [str(uuid.uuid4())], "command": {"type": "register_application"}},
        new_key(),
    )
    assert registration.status_code == 422


def test_a_bulk_over_500_applications_ends_with_500_outcomes(
    client: TestClient, db: Database
) -> None:
    tenant = make_tenant(db)
    reference = seed_reference(db, tenant.organisation_id)
    ids = [
        str(
            seed_application(
                db, tenant.organisation_id, reference.vacancy_id, ApplicationStatus.RECEIVED
            )
        )
        for _ in range(500)
    ]
    response = _bulk(
        client, tenant, {"application_ids": ids, "command": {"type": "save_application"}}, new_key()
    )
    items = response.json()["items"]
    assert response.json()["count"] == len(items) == 500
    for item in items:
        run_command(db, task_message(db, item["command_id"]), HANDLERS["save_application"])
    with db.transaction() as session:
        statuses = session.scalars(select(CommandRecord.status)).all()
        saved = session.scalar(
            select(func.count()).select_from(Application).where(Application.status == "saved")
        )
    assert len(statuses) == 500 and set(statuses) == {"succeeded"}
    assert saved == 500
