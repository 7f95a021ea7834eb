"""Text PostgreSQL cannot store is refused with 422 naming the field, on every string input
of every operation in the OpenAPI document: path and query parameters, headers, form
fields and every string of a JSON body at any depth (each command type of a union). At the
AMQP ingress, such an envelope is dead-lettered naming the field.

The inputs are read from the document the application serves, so a new route, parameter
or field is covered without touching this test. It runs on PostgreSQL, because SQLite
stores NUL happily and would hide a 500. NUL goes everywhere; a lone surrogate only into
JSON bodies, the one place HTTP can carry one (as a ``\\ud800`` escape).
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.command_api.app import create_app
from services.command_api.deps import IDEMPOTENCY_KEY_HEADER
from services.command_api.ingress import CommandIngress, Verdict
from shared.db.database import Database
from shared.db.models import CommandRecord, DeadLetter
from shared.settings import Settings
from tests.conftest import Tenant, make_tenant, truncate_all

pytestmark = pytest.mark.integration

NUL, SURROGATE = "a\x00b", "a\ud800b"
DOCUMENT = create_app(Settings(), Database("sqlite://")).openapi()
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]


@dataclass(frozen=True)
class Input:
    """One string input of one operation, and the field name its error must carry."""

    method: str
    path: str
    where: str  # path, query, header, form or json
    name: str  # the parameter, form field or dotted JSON path
    body: dict[str, Any] = field(default_factory=dict, compare=False)  # a JSON body's base
    branch: str = ""  # the command type, for a body that is a union

    @property
    def id(self) -> str:
        branch = f"<{self.branch}>" if self.branch else ""
        return f"{self.method} {self.path} {self.where}{branch}:{self.name}"


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _options(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema's alternatives (anyOf/oneOf, null left out), resolved."""
    schema = _resolve(schema)
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if not alternatives:
        return [schema]
    return [o for a in alternatives for o in _options(a) if o.get("type") != "null"]


def _takes_text(schema: dict[str, Any]) -> bool:
    return any(option.get("type") == "string" for option in _options(schema))


def _sample(schema: dict[str, Any]) -> Any:
    """A plain value of ``schema``: what fills the fields that are not under test."""
    option = _options(schema)[0]
    if "const" in option:
        return option["const"]
    if "enum" in option:
        return option["enum"][0]
    kind = option.get("type")
    if kind == "string":
        formats = {"uuid": str(uuid.uuid4()), "date-time": "2030-01-01T09:00:00Z"}
        return formats.get(option.get("format", ""), "x" * max(1, option.get("minLength", 1)))
    if kind in ("integer", "number"):
        return option.get("minimum", 1)
    if kind == "boolean":
        return False
    if kind == "array":
        return [_sample(option["items"])] if option.get("minItems") else []
    if kind == "object":
        return {name: _sample(option["properties"][name]) for name in option.get("required", [])}
    return None


def _string_paths(schema: dict[str, Any], prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """Every path under ``schema`` that holds text (a constant aside), through objects,
    arrays, maps (with the key ``key``) and every alternative of a union."""
    for option in _options(schema):
        if option.get("type") == "string" and "const" not in option:
            yield prefix
        elif option.get("type") == "array" and "items" in option:
            yield from _string_paths(option["items"], (*prefix, "0"))
        elif option.get("type") == "object":
            for name, inner in option.get("properties", {}).items():
                yield from _string_paths(inner, (*prefix, name))
            extra = option.get("additionalProperties")
            if isinstance(extra, dict):
                yield from _string_paths(extra, (*prefix, "key"))


def _branches(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A union body's branches by their ``type``; a plain body is one branch, unnamed."""
    mapping = _resolve(schema).get("discriminator", {}).get("mapping")
    if not mapping:
        return [("", schema)]
    return [(name, {"$ref": ref}) for name, ref in mapping.items()]


def _form_names(schema: dict[str, Any]) -> list[str]:
    """The form's fields: its properties, and one name for each pattern (``stars-<id>``)."""
    patterned = [
        p.strip("^").split("[")[0] + str(uuid.uuid4()) for p in schema.get("patternProperties", {})
    ]
    return [*schema.get("properties", {}), *patterned]


def _inputs() -> Iterator[Input]:
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if _takes_text(parameter["schema"]):
                    yield Input(method.upper(), path, parameter["in"], parameter["name"])
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                for branch, schema in _branches(content["application/json"]["schema"]):
                    base = _sample(schema) | ({"type": branch} if branch else {})
                    for found in dict.fromkeys(_string_paths(schema, ())):
                        yield Input(method.upper(), path, "json", ".".join(found), base, branch)
            form = content.get("application/x-www-form-urlencoded", {}).get("schema")
            if form:
                for name in _form_names(form):
                    yield Input(method.upper(), path, "form", name)


CASES = [
    pytest.param(one, text, id=f"{one.id} {'NUL' if text == NUL else 'surrogate'}")
    for one in _inputs()
    for text in ((NUL, SURROGATE) if one.where == "json" else (NUL,))
]


def _with(body: dict[str, Any], dotted: str, text: str) -> dict[str, Any]:
    """``body`` with ``text`` at ``dotted`` (lists and objects made on the way)."""
    body = json.loads(json.dumps(body))
    parts = dotted.split(".")
    node: Any = body
    for part, after in itertools.pairwise(parts):
        key: Any = int(part) if isinstance(node, list) else part
        if isinstance(node, list):
            while len(node) <= key:
                node.append({})
        inner = node[key] if isinstance(node, list) else node.get(key)
        if not isinstance(inner, dict | list):
            node[key] = [] if after == "0" else {}
        node = node[key]
    last: Any = int(parts[-1]) if isinstance(node, list) else parts[-1]
    if isinstance(node, list):
        while len(node) <= last:
            node.append(None)
    node[last] = text
    return body


@dataclass(frozen=True)
class Api:
    client: TestClient
    tenant: Tenant


@pytest.fixture(scope="module")
def api(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The API in-process on this session's PostgreSQL, with an organisation's key."""
    db = Database(postgres_url, pool_size=4)
    truncate_all(db)
    tenant = make_tenant(db)
    documents = tmp_path_factory.mktemp("documents")
    app = create_app(Settings(database_url=postgres_url, documents_dir=documents), db)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, tenant)
    db.dispose()


def _send(api: Api, one: Input, text: str) -> Any:
    operation = DOCUMENT["paths"][one.path][one.method.lower()]
    headers = dict(api.tenant.headers)
    path_values: dict[str, str] = {}
    query: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        target = (parameter["in"], parameter["name"]) == (one.where, one.name)
        value = text if target else str(_sample(parameter["schema"]))
        if parameter["in"] == "path":
            path_values[parameter["name"]] = quote(value, safe="")
        elif parameter["in"] == "query" and (target or parameter.get("required")):
            query[parameter["name"]] = value
        elif parameter["in"] == "header" and parameter["name"] == IDEMPOTENCY_KEY_HEADER:
            headers[IDEMPOTENCY_KEY_HEADER] = text if target else f"k-{uuid.uuid4()}"
        elif parameter["in"] == "header" and target:
            headers[parameter["name"]] = text
    url = one.path.format(**path_values)
    content = operation.get("requestBody", {}).get("content", {})
    if one.where == "form":
        return api.client.request(
            one.method, url, params=query, headers=headers, data={one.name: text}
        )
    if "application/json" in content:
        body = (
            _with(one.body, one.name, text)
            if one.where == "json"
            else _sample(content["application/json"]["schema"])
        )
        headers["content-type"] = "application/json"
        return api.client.request(
            one.method, url, params=query, headers=headers, content=json.dumps(body)
        )
    if content and one.where != "header":
        headers["content-type"] = next(iter(content))
    return api.client.request(
        one.method, url, params=query, headers=headers, content=b"%PDF-1.7" if content else None
    )


@pytest.mark.parametrize(("one", "text"), CASES)
def test_text_that_cannot_be_stored_is_refused_naming_the_field(
    api: Api, one: Input, text: str
) -> None:
    # Given an operation's string input, holding NUL or a lone surrogate
    # When the request is sent, authenticated, to the API on PostgreSQL
    response = _send(api, one, text)
    # Then it is refused as a client error naming that input, never a 5xx
    expected = 400 if one.name == IDEMPOTENCY_KEY_HEADER else 422  # the key's own rule
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/problem+json"
    fields = [e["field"].lower() for e in response.json()["errors"]]
    assert one.name.lower() in fields, fields


AMQP_USER = "hr-unstorable"
_APPLICATION = "00000000-0000-4000-8000-000000000001"


@pytest.fixture
def pg_tenant(pg: Database) -> Tenant:
    return make_tenant(pg, amqp_user=AMQP_USER)


@pytest.mark.parametrize(
    ("command", "field_name"),
    [
        (
            {"type": "withdraw_application", "application_id": _APPLICATION, "reason": NUL},
            "command.reason",
        ),
        (
            {
                "type": "send_email",
                "application_id": _APPLICATION,
                "subject": "Hi",
                "text": "Hello",
                "variables": {"offer": NUL},
            },
            "command.variables.offer",
        ),
        ({"type": "withdraw_application\x00", "application_id": _APPLICATION}, "command.type"),
    ],
    ids=["a field", "a variable", "the command type"],
)
def test_an_amqp_envelope_with_text_that_cannot_be_stored_is_dead_lettered_naming_the_field(
    pg: Database, pg_tenant: Tenant, command: dict[str, Any], field_name: str
) -> None:
    # Given an envelope, published by the organisation's AMQP user, with NUL in a field
    body = json.dumps({"idempotency_key": f"k-{uuid.uuid4()}", "command": command}).encode()
    ingress = CommandIngress(pg, queue="werving.commands", retention=timedelta(hours=48))
    # When the ingress handles it on PostgreSQL
    outcome = ingress.handle(body, AMQP_USER, "message-1")
    # Then it is dead-lettered (not retried) with a reason naming the field, and nothing accepted
    assert outcome.verdict is Verdict.DEAD_LETTERED
    assert f"{field_name}: contains NUL" in (outcome.reason or "")
    with pg.transaction() as session:
        assert session.scalar(select(func.count()).select_from(CommandRecord)) == 0
        letter = session.scalars(select(DeadLetter)).one()
    assert field_name in letter.reason
