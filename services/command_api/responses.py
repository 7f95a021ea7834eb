"""Turning an idempotent result into an HTTP response, and the documented error answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final, TypeVar

from fastapi.responses import JSONResponse

from services.command_api.idempotency import KeyInProgress, KeyReused, Response
from services.command_api.problems import PROBLEM_JSON, ProblemError

REPLAYED_HEADER = "Idempotency-Replayed"


Responses = dict[int | str, dict[str, Any]]
F = TypeVar("F", bound=Callable[..., Any])

# What a dependency can answer, by the dependency: the OpenAPI document gives each
# operation the answers of the dependencies it runs (services.command_api.openapi).
DEPENDENCY_ANSWERS: Final[dict[Callable[..., Any], Responses]] = {}


def problem(description: str) -> dict[str, Any]:
    """An error answer: ``application/problem+json`` with the Problem schema."""
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def html_page(description: str) -> dict[str, Any]:
    """An answer that is a page for a person."""
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def answers(responses: Responses) -> Callable[[F], F]:
    """Record what a dependency answers, for every operation that depends on it."""

    def register(dependency: F) -> F:
        DEPENDENCY_ANSWERS[dependency] = responses
        return dependency

    return register


NOT_FOUND: Responses = {404: problem("Not found in the caller's organisation")}
INVALID_QUERY: Responses = {
    422: problem("Invalid query: an unknown filter value, a limit out of range, a bad cursor"),
}
_UNKNOWN_PATH = "an unknown purpose or locale (the error names the path parameter)"
TEMPLATE_READ_ERRORS: Responses = {422: problem(_UNKNOWN_PATH.capitalize())}
_TEMPLATE_REFUSED = (
    "a template that fails its checks (each error's field names the part, `subject`, `text`"
    " or `html`, and its message the line)"
)
TEMPLATE_PREVIEW_ERRORS: Responses = {
    422: problem(f"{_TEMPLATE_REFUSED.capitalize()}, or {_UNKNOWN_PATH}"),
}
TEMPLATE_WRITE_ERRORS: Responses = {
    409: problem("The same template was saved at the same moment; retry later"),
    422: problem(f"{_TEMPLATE_REFUSED.capitalize()}, or {_UNKNOWN_PATH}"),
}


@contextmanager
def idempotency_problems() -> Iterator[None]:
    try:
        yield
    except KeyInProgress:
        raise ProblemError(
            409,
            "Request in progress",
            "a request with this Idempotency-Key is still being processed",
            headers={"Retry-After": "1"},
        ) from None
    except KeyReused:
        raise ProblemError(
            422,
            "Idempotency-Key reused",
            "this Idempotency-Key was already used for a different request",
        ) from None


def idempotent_response(
    result: Response, location: Callable[[dict[str, Any]], str]
) -> JSONResponse:
    headers = {"Location": location(result.body)}
    if result.replayed:
        headers[REPLAYED_HEADER] = "true"
    return JSONResponse(result.body, status_code=result.status_code, headers=headers)
