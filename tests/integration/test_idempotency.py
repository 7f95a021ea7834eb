"""Idempotency keys on PostgreSQL: concurrency and the in-progress answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from sqlalchemy import func, select

from services.command_api.idempotency import _lock_id
from shared.db.database import Database
from shared.db.models import CommandRecord, OutboxMessage
from tests.conftest import make_tenant
from tests.factories import new_key, open_vacancy, register_body

pytestmark = pytest.mark.integration


def _count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_concurrent_identical_requests_create_one_command(pg: Database, api_url: str) -> None:
    # Given ten clients that send the same request with the same key at once
    tenant = make_tenant(pg)
    body = register_body(open_vacancy(pg, tenant.organisation_id))
    headers = {**tenant.headers, "Idempotency-Key": new_key()}

    def send(_: int) -> httpx.Response:
        return httpx.post(f"{api_url}/v1/commands", json=body, headers=headers, timeout=10)

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(send, range(10)))
    # Then exactly one command exists; every answer is that command, or "still in progress"
    assert {r.status_code for r in responses} <= {202, 409}
    accepted = {r.json()["command_id"] for r in responses if r.status_code == 202}
    assert len(accepted) == 1
    assert all(r.headers["Retry-After"] == "1" for r in responses if r.status_code == 409)
    assert _count(pg, CommandRecord) == 1
    assert _count(pg, OutboxMessage) == 1


def test_a_request_whose_key_is_still_in_progress_gets_409(
    pg: Database, api_url: str, postgres_url: str
) -> None:
    # Given a first request with this key that is still running (it holds the key's lock)
    tenant = make_tenant(pg)
    key = new_key()
    body = register_body(open_vacancy(pg, tenant.organisation_id))
    with psycopg.connect(postgres_url) as first_request:
        first_request.execute(
            "SELECT pg_advisory_lock(%s)", (_lock_id(tenant.organisation_id, key),)
        )
        # When a retry arrives
        response = httpx.post(
            f"{api_url}/v1/commands", json=body, headers={**tenant.headers, "Idempotency-Key": key}
        )
        # Then it is told to come back later, and nothing was stored
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["Retry-After"] == "1"
        assert _count(pg, CommandRecord) == 0
    # And once the first is done, the key works
    retried = httpx.post(
        f"{api_url}/v1/commands", json=body, headers={**tenant.headers, "Idempotency-Key": key}
    )
    assert retried.status_code == 202


def test_another_organisations_key_gets_404_for_application_and_command(
    pg: Database, api_url: str
) -> None:
    owner, intruder = make_tenant(pg, name="A"), make_tenant(pg, name="B")
    accepted = httpx.post(
        f"{api_url}/v1/commands",
        json=register_body(open_vacancy(pg, owner.organisation_id)),
        headers={**owner.headers, "Idempotency-Key": new_key()},
    ).json()
    for path in (
        f"/v1/commands/{accepted['command_id']}",
        f"/v1/applications/{accepted['application_id']}",
    ):
        assert httpx.get(api_url + path, headers=intruder.headers).status_code == 404
    assert (
        httpx.get(
            f"{api_url}/v1/commands/{accepted['command_id']}", headers=owner.headers
        ).status_code
        == 200
    )


def test_a_bulk_under_the_longest_key_stores_and_finds_its_derived_keys(
    pg: Database, api_url: str
) -> None:
    # Given an application and the longest key the contract allows (255 characters)
    tenant = make_tenant(pg)
    registered = httpx.post(
        f"{api_url}/v1/commands",
        json=register_body(open_vacancy(pg, tenant.organisation_id)),
        headers={**tenant.headers, "Idempotency-Key": new_key()},
    )
    application_id = registered.json()["application_id"]
    key = "k" * 255
    # When a bulk request is sent under it
    bulk = httpx.post(
        f"{api_url}/v1/commands/bulk",
        json={"application_ids": [application_id], "command": {"type": "save_application"}},
        headers={**tenant.headers, "Idempotency-Key": key},
    )
    # Then its command is accepted under the derived key (292 characters), and found by it
    assert bulk.status_code == 202, bulk.text
    [item] = bulk.json()["items"]
    assert item["idempotency_key"] == f"{key}/{application_id}"
    found = httpx.get(
        f"{api_url}/v1/commands",
        params={"idempotency_key": item["idempotency_key"]},
        headers=tenant.headers,
    )
    assert [c["command_id"] for c in found.json()] == [item["command_id"]]
