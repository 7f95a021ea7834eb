"""The OpenAPI document says what the server does: the Idempotency-Key is required exactly
where the server requires it, and errors are documented as the problem+json it sends."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.command_api.app import create_app
from services.command_api.deps import IDEMPOTENCY_KEY_HEADER
from services.command_api.problems import PROBLEM_JSON
from shared.commands.fields import IDEMPOTENCY_KEY_PATTERN
from shared.db.database import Database
from shared.settings import Settings
from tests.conftest import Tenant

DOCUMENT = create_app(Settings(), Database("sqlite://")).openapi()
OPERATIONS = [
    (method.upper(), path, operation)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
]


def _key_parameter(operation: dict[str, Any]) -> dict[str, Any] | None:
    return next(
        (
            p
            for p in operation.get("parameters", [])
            if p["in"] == "header" and p["name"].lower() == IDEMPOTENCY_KEY_HEADER.lower()
        ),
        None,
    )


def _url(path: str, operation: dict[str, Any]) -> str:
    values = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            schema = parameter["schema"]
            values[parameter["name"]] = (schema.get("enum") or [str(uuid.uuid4())])[0]
    return path.format(**values)


@pytest.mark.parametrize(
    ("method", "path", "operation"), [pytest.param(*o, id=f"{o[0]} {o[1]}") for o in OPERATIONS]
)
def test_the_idempotency_key_is_documented_as_required_exactly_where_it_is(
    client: TestClient, tenant: Tenant, method: str, path: str, operation: dict[str, Any]
) -> None:
    # Given an operation of the document, and what it says about the key
    documented = _key_parameter(operation)
    # When it is called with the organisation's key but without an Idempotency-Key
    response = client.request(method, _url(path, operation), headers=tenant.headers)
    refused_for_the_key = response.status_code == 400 and any(
        e["field"] == IDEMPOTENCY_KEY_HEADER for e in response.json().get("errors", [])
    )
    # Then it is refused for the key if, and only if, the document requires the key
    assert refused_for_the_key == (documented is not None)
    if documented is not None:
        assert documented["required"] is True
        assert documented["schema"]["pattern"] == IDEMPOTENCY_KEY_PATTERN
        assert "400" in operation["responses"]


def test_every_error_is_documented_as_problem_json_or_a_page() -> None:
    # Given every client-error answer of every operation
    errors = [
        (f"{method} {path} {status}", answer)
        for method, path, operation in OPERATIONS
        for status, answer in operation["responses"].items()
        if 400 <= int(status) < 500
    ]
    # Then each is problem+json with the Problem schema, or a page for a person
    for where, answer in errors:
        content = answer["content"]
        assert set(content) <= {PROBLEM_JSON, "text/html"}, where
        if PROBLEM_JSON in content:
            assert content[PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}
    # And FastAPI's validation error, which the server never sends, is not in the document
    assert "HTTPValidationError" not in DOCUMENT["components"]["schemas"]


def test_validation_is_documented_wherever_there_is_something_to_validate() -> None:
    # Given the operations that take a parameter or a body
    taking = [
        (f"{method} {path}", operation)
        for method, path, operation in OPERATIONS
        if operation.get("parameters") or "requestBody" in operation
    ]
    # Then each documents 422, and each that takes a body also 400 and 413
    for where, operation in taking:
        assert "422" in operation["responses"], where
        if "requestBody" in operation:
            assert {"400", "413"} <= set(operation["responses"]), where
