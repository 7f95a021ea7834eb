"""The OpenAPI document, completed from the routes, so that it says what the server does.

FastAPI documents each route's own answers. This adds, per operation, what the route's
dependencies answer (401 and 403 from the API key; 400, 409 and 422 from the
Idempotency-Key, which is declared required, with its pattern), 422 wherever a
parameter or body is validated, 400 wherever a body is read and 413 wherever one may be
sent (with the limit of that path), every error as ``application/problem+json`` with the
Problem schema. FastAPI's ``HTTPValidationError``, which the server never sends, is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from services.command_api.body_limits import body_limit
from services.command_api.deps import (
    IDEMPOTENCY_KEY_DESCRIPTION,
    IDEMPOTENCY_KEY_HEADER,
    get_idempotency_key,
)
from services.command_api.problems import Problem
from services.command_api.responses import DEPENDENCY_ANSWERS, Responses, problem
from services.command_api.routes.bulk import BulkCommand
from shared.commands.fields import IDEMPOTENCY_KEY_PATTERN
from shared.contracts import REF_TEMPLATE, bulk_command_schema

BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
INVALID: Final = (
    "Invalid parameters or body: each error names its field (text with NUL or a lone"
    " surrogate, which cannot be stored, included)"
)
UNREADABLE: Final = "The body cannot be read: not UTF-8, or a broken form"
_FASTAPI_VALIDATION_SCHEMAS: Final = ("HTTPValidationError", "ValidationError")


class CommandApi(FastAPI):
    """The command API's application: FastAPI, with the completed OpenAPI document."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            complete(super().openapi(), self.routes)
        return self.openapi_schema or {}


def complete(document: dict[str, Any], routes: Iterable[BaseRoute]) -> None:
    """Complete ``document`` (FastAPI's, for ``routes``) in place."""
    for route in iter_route_contexts(list(routes)):  # as included, with their dependencies
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        calls = _calls(route.dependant)
        for method in sorted(route.methods or ()):
            operation = document["paths"][route.path_format][method.lower()]
            if get_idempotency_key in calls:
                _require_idempotency_key(operation)
            extra: list[Responses] = []
            if operation.get("parameters") or "requestBody" in operation:
                extra.append({422: problem(INVALID)})
            if "requestBody" in operation:
                extra.append({400: problem(UNREADABLE)})
            if method in BODY_METHODS:
                limit = body_limit(str(route.path_format))
                extra.append({413: problem(f"The body is larger than {limit} bytes")})
            extra += [DEPENDENCY_ANSWERS.get(call, {}) for call in calls]
            operation["responses"] = _merged(operation["responses"], extra)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template=REF_TEMPLATE)
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    bulk = schemas[BulkCommand.__name__]["properties"]
    examples = bulk["command"].get("examples")
    bulk["command"] = bulk_command_schema(schemas, REF_TEMPLATE)
    bulk["command"]["description"] = BulkCommand.model_fields["command"].description
    if examples:
        bulk["command"]["examples"] = examples
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    document["components"]["schemas"] = dict(sorted(schemas.items()))


def _calls(dependant: Dependant) -> list[Callable[..., Any]]:
    """Every dependency the route runs, its dependencies' included, in order, once."""
    calls: list[Callable[..., Any]] = []
    stack = [dependant]
    while stack:
        current = stack.pop()
        if current.call is not None and current.call not in calls:
            calls.append(current.call)
        stack.extend(reversed(current.dependencies))
    return calls


def _require_idempotency_key(operation: dict[str, Any]) -> None:
    parameters = [
        p
        for p in operation.get("parameters", [])
        if not (p["in"] == "header" and p["name"].lower() == IDEMPOTENCY_KEY_HEADER.lower())
    ]
    parameters.append(
        {
            "name": IDEMPOTENCY_KEY_HEADER,
            "in": "header",
            "required": True,
            "description": IDEMPOTENCY_KEY_DESCRIPTION,
            "schema": {
                "type": "string",
                "pattern": IDEMPOTENCY_KEY_PATTERN,
                "minLength": 1,
                "maxLength": 257,
            },
        }
    )
    operation["parameters"] = parameters


def _merged(responses: dict[str, Any], extra: list[Responses]) -> dict[str, Any]:
    """The route's own answers with the extra ones: descriptions joined, media types
    added; FastAPI's validation error body, which the server never sends, dropped."""
    merged = {status: _without_fastapi_validation(answer) for status, answer in responses.items()}
    for answers in extra:
        for status, answer in answers.items():
            existing = merged.setdefault(str(status), {"description": "", "content": {}})
            descriptions = [d for d in (existing["description"], answer["description"]) if d]
            if answer["description"] in existing["description"]:
                descriptions = descriptions[:1]
            existing["description"] = "; ".join(descriptions)
            content = existing.setdefault("content", {})
            for media_type, body in answer.get("content", {}).items():
                content.setdefault(media_type, body)
            existing.setdefault("headers", {}).update(answer.get("headers", {}))
    for answer in merged.values():
        for part in ("content", "headers"):
            if not answer.get(part):
                answer.pop(part, None)
    return dict(sorted(merged.items(), key=lambda item: (not item[0].isdigit(), item[0])))


def _without_fastapi_validation(answer: dict[str, Any]) -> dict[str, Any]:
    content = {
        media_type: body
        for media_type, body in answer.get("content", {}).items()
        if body.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
        not in _FASTAPI_VALIDATION_SCHEMAS
    }
    if content == answer.get("content", {}):
        return answer
    # FastAPI's default 422: the problem+json answer replaces it
    return {"description": "", "content": content} if content else {"description": ""}
