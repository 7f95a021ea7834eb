"""Errors as RFC 9457 ``application/problem+json``, with a list of field errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db.availability import database_unavailable
from shared.messaging.routes import ROUTES
from shared.storable_text import printable

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
# What a client waits before it sends again a request the database could not serve: by
# then a lost connection has been replaced; a restart may take a few tries.
RETRY_AFTER_UNAVAILABLE_S = 2
UNAVAILABLE_DETAIL = (
    "the database is unavailable for a moment: send the request again after Retry-After"
    " seconds (a write with the same Idempotency-Key, so that it is carried out once)"
)


class FieldError(BaseModel):
    field: str
    code: str
    message: str


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] = []


class ProblemError(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(title=title, status=status, detail=detail, errors=list(errors))
        self.headers = headers or {}


def not_found(what: str, ident: object) -> ProblemError:
    """Unknown, or another organisation's: the answer is the same."""
    return ProblemError(404, "Not found", f"{what} {ident} not found")


def invalid_field(field: str, code: str, message: str) -> ProblemError:
    """A 422 naming one field, shaped like a request validation error."""
    return ProblemError(
        422,
        "Invalid request",
        f"{field}: {message}",
        errors=[FieldError(field=field, code=code, message=message)],
    )


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    """The problem as JSON. A message may quote what it refuses: text that cannot be
    encoded (a lone surrogate) or stored (NUL) is written as an escape."""
    return JSONResponse(
        _printable(problem.model_dump(mode="json")),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _printable(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {key: _printable(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_printable(inner) for inner in value]
    return value


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    if parts and parts[0] in ROUTES:  # the discriminator's branch, not a field
        parts = parts[1:]
    return ".".join(parts) or "body"


def field_errors(errors: Sequence[Any]) -> list[FieldError]:
    return [
        FieldError(
            field=_field_name(e.get("loc", ())), code=e.get("type", "invalid"), message=e["msg"]
        )
        for e in errors
    ]


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.problem, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc.errors())
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        return problem_response(
            Problem(title="Invalid request", status=422, detail=detail, errors=errors)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            Problem(title=str(exc.detail), status=exc.status_code),
            dict(exc.headers) if exc.headers else None,
        )

    async def _database_away(request: Request, exc: Exception) -> JSONResponse:
        # An operational error (a connection lost, refused or ended, a deadlock, a query
        # cancelled) or no connection free in the pool: the transaction was rolled back
        # (or, lost during its commit, stored with its Idempotency-Key, which replays it).
        if not isinstance(exc, OperationalError | InterfaceError) and not database_unavailable(exc):
            raise exc  # about the statement: a 500, as before
        route = request.scope.get("route")  # its template: a path may hold a link's token
        log.warning(
            "api.database_unavailable",
            error=type(exc).__name__,
            route=getattr(route, "path", None),
            method=request.method,
        )
        return problem_response(
            Problem(title="Service unavailable", status=503, detail=UNAVAILABLE_DETAIL),
            {"Retry-After": str(RETRY_AFTER_UNAVAILABLE_S)},
        )

    app.add_exception_handler(DBAPIError, _database_away)
    app.add_exception_handler(PoolTimeoutError, _database_away)
