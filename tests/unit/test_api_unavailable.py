"""The API when its database is away: 503 problem+json with Retry-After, never a bare 500."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.command_api.app import create_app
from services.command_api.problems import PROBLEM_JSON, RETRY_AFTER_UNAVAILABLE_S
from shared.db.database import Database
from shared.settings import Settings
from tests.factories import new_key, register_body
from tests.processes import free_port

# A key of the right shape: the request reaches the database before it is judged.
SOME_KEY = f"wv_{uuid.uuid4().hex[:12]}_{'s' * 43}"


@pytest.fixture
def away_client() -> Iterator[TestClient]:
    """The API on a PostgreSQL server that is not there (nothing listens on its port)."""
    url = f"postgresql://werving@127.0.0.1:{free_port()}/werving"
    db = Database(url, pool_size=1)
    with TestClient(create_app(Settings(database_url=url), db), raise_server_exceptions=False) as c:
        yield c
    db.dispose()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/commands", register_body(uuid.uuid4())),
        ("GET", "/v1/applications", None),
        ("GET", f"/v1/commands/{uuid.uuid4()}", None),
        ("GET", f"/review/{'t' * 43}", None),
    ],
    ids=["accept a command", "list", "read a command", "a reviewer's page"],
)
def test_a_request_the_database_cannot_serve_is_told_to_come_back(
    away_client: TestClient, method: str, path: str, body: dict[str, object] | None
) -> None:
    response = away_client.request(
        method,
        path,
        json=body,
        headers={"Authorization": f"Bearer {SOME_KEY}", "Idempotency-Key": new_key()},
    )

    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["Retry-After"] == str(RETRY_AFTER_UNAVAILABLE_S)
    problem = response.json()
    assert (problem["status"], problem["title"]) == (503, "Service unavailable")
    assert "Idempotency-Key" in problem["detail"]


def test_the_openapi_document_lists_the_503_on_every_operation_that_reads_the_database(
    client: TestClient,
) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    answers = {
        (method, path): operation["responses"]
        for path, item in paths.items()
        for method, operation in item.items()
    }
    without = sorted(key for key, responses in answers.items() if "503" not in responses)
    assert without == [("get", "/healthz")]  # checks nothing, so a database outage never fails it
    unavailable = answers[("post", "/v1/commands")]["503"]
    assert list(unavailable["content"]) == [PROBLEM_JSON]
    assert "Retry-After" in unavailable["headers"]
