"""The API on PostgreSQL while its connections are being killed: every request it cannot serve
is told to come back (503 problem+json with Retry-After), and coming back with the same
Idempotency-Key carries a command out once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from services.command_api.problems import PROBLEM_JSON
from shared.db.database import Database
from shared.db.models import CommandRecord
from tests.conftest import make_tenant
from tests.factories import new_key, open_vacancy, register_body
from tests.faults import terminate_backends

pytestmark = pytest.mark.integration

CLIENTS = 3
WANTED_503 = 5
LONGEST_S = 30


@dataclass(frozen=True)
class Answer:
    key: str
    body: dict[str, object]
    status: int
    content_type: str
    retry_after: str | None


def test_requests_in_flight_while_the_database_connections_are_killed_are_told_to_retry(
    pg: Database, api_url: str, postgres_url: str
) -> None:
    tenant = make_tenant(pg)
    vacancy = open_vacancy(pg, tenant.organisation_id)
    answers: list[Answer] = []
    reads: list[tuple[int, str, str | None]] = []
    enough = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=api_url, headers=tenant.headers, timeout=30) as http:
            while not enough.is_set():
                key, body = new_key(), register_body(vacancy)
                response = http.post("/v1/commands", json=body, headers={"Idempotency-Key": key})
                read = http.get("/v1/applications", params={"vacancy_id": str(vacancy)})
                reads.append(
                    (
                        read.status_code,
                        read.headers.get("content-type", ""),
                        read.headers.get("Retry-After"),
                    )
                )
                answers.append(
                    Answer(
                        key,
                        body,
                        response.status_code,
                        response.headers.get("content-type", ""),
                        response.headers.get("Retry-After"),
                    )
                )

    # Given clients sending commands and reading
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    # When PostgreSQL ends the API's connections in the middle of their requests, over and
    # over (the test's own are idle meanwhile)
    killed = 0
    deadline = time.monotonic() + LONGEST_S
    while time.monotonic() < deadline:
        killed += terminate_backends(postgres_url, busy_only=True)
        if sum(a.status == 503 for a in answers) >= WANTED_503:
            break
    enough.set()
    for thread in threads:
        thread.join(timeout=60)
    statuses = Counter(a.status for a in answers)
    print(f"\n{killed} connections killed; answers: {dict(statuses)}")  # noqa: T201 - figures

    # Then every answer is an acceptance or a 503 problem+json that says when to retry
    assert set(statuses) <= {202, 503}, statuses
    unavailable = [a for a in answers if a.status == 503]
    assert len(unavailable) >= WANTED_503, "the kills never met a request in flight"
    assert {(a.content_type, a.retry_after) for a in unavailable} == {(PROBLEM_JSON, "2")}
    # And sending each refused request again, with its key, carries each command out once
    with httpx.Client(base_url=api_url, headers=tenant.headers) as http:
        for answer in unavailable:
            again = http.post(
                "/v1/commands", json=answer.body, headers={"Idempotency-Key": answer.key}
            )
            assert again.status_code == 202, again.text
    with pg.transaction() as session:
        commands = session.scalar(
            select(func.count())
            .select_from(CommandRecord)
            .where(CommandRecord.organisation_id == tenant.organisation_id)
        )
    assert commands == len({a.key for a in answers})
    # And the reads were answered, or told to come back, the same way
    assert {(status, kind) for status, kind, _ in reads} <= {
        (200, "application/json"),
        (503, PROBLEM_JSON),
    }
    assert all(retry == "2" for status, _, retry in reads if status == 503)
