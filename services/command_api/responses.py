"""Turning an idempotent result into an HTTP response, and its documented error answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.responses import JSONResponse

from services.command_api.idempotency import KeyInProgress, KeyReused, Response
from services.command_api.problems import PROBLEM_JSON, Problem, ProblemError

REPLAYED_HEADER = "Idempotency-Replayed"


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem, "content": {PROBLEM_JSON: {}}}


POST_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _problem("Missing, repeated or malformed Idempotency-Key"),
    401: _problem("No or unknown API key"),
    403: _problem("The API key lacks the scope"),
    409: _problem("A request with this Idempotency-Key is still in progress; retry later"),
    422: _problem("Invalid body, or the Idempotency-Key was used for a different request"),
}
GET_ERRORS: dict[int | str, dict[str, Any]] = {
    401: POST_ERRORS[401],
    403: POST_ERRORS[403],
    404: _problem("Not found in the caller's organisation"),
}
LIST_ERRORS: dict[int | str, dict[str, Any]] = {
    401: POST_ERRORS[401],
    403: POST_ERRORS[403],
    422: _problem("Invalid query: an unknown filter value, a limit out of range, a bad cursor"),
}


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {401: POST_ERRORS[401], 403: POST_ERRORS[403]}
_UNKNOWN_PATH = "an unknown purpose or locale (the error names the path parameter)"
TEMPLATE_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    422: _problem(_UNKNOWN_PATH.capitalize()),
}
_TEMPLATE_REFUSED = (
    "a template that fails its checks (each error's field names the part, `subject`, `text`"
    " or `html`, and its message the line)"
)
TEMPLATE_PREVIEW_ERRORS: dict[int | str, dict[str, Any]] = {
    **TEMPLATE_READ_ERRORS,
    422: _problem(f"Invalid body, {_TEMPLATE_REFUSED}, or {_UNKNOWN_PATH}"),
}
TEMPLATE_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **POST_ERRORS,
    409: _problem(
        "A request with this Idempotency-Key is still in progress, or the same template was"
        " saved at the same moment; retry later"
    ),
    422: _problem(
        f"Invalid body, {_TEMPLATE_REFUSED}, {_UNKNOWN_PATH}, or the Idempotency-Key was used"
        " for a different request"
    ),
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
