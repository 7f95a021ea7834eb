"""Request dependencies: database, settings, the authenticated caller, the idempotency key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.command_api.api_keys import Principal, Scope, authenticate
from services.command_api.problems import FieldError, ProblemError
from services.command_api.responses import answers, problem
from shared.commands.fields import IDEMPOTENCY_KEY_RULE, parse_idempotency_key
from shared.db.database import Database
from shared.documents.storage import DocumentStorage
from shared.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An organisation's API key: `wv_<id>_<secret>`")


@answers(
    {
        503: problem(
            "The database is unavailable for a moment: send the request again after"
            " `Retry-After` seconds (a write with the same Idempotency-Key)"
        )
        | {
            "headers": {
                "Retry-After": {
                    "description": "Seconds to wait before sending the request again",
                    "schema": {"type": "integer", "minimum": 0},
                }
            }
        }
    }
)
def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_storage(request: Request) -> DocumentStorage:
    storage: DocumentStorage = request.app.state.storage
    return storage


DatabaseDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StorageDep = Annotated[DocumentStorage, Depends(get_storage)]


@answers({401: problem("No or unknown API key")})
def get_principal(
    db: DatabaseDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    unauthorised = ProblemError(
        401,
        "Unauthorized",
        "send an API key as 'Authorization: Bearer <key>'",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None:
        raise unauthorised
    with db.transaction() as session:
        principal = authenticate(session, credentials.credentials)
    if principal is None:
        raise unauthorised
    return principal


def require(scope: Scope) -> Callable[[Principal], Principal]:
    @answers({403: problem("The API key lacks the scope")})
    def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if scope not in principal.scopes:
            raise ProblemError(403, "Forbidden", f"this API key lacks the scope '{scope}'")
        return principal

    return check


IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_DESCRIPTION = (
    f"{IDEMPOTENCY_KEY_RULE}. The same key and body within the retention period replays the"
    " first response."
)


@answers(
    {
        400: problem("Missing, repeated or malformed Idempotency-Key"),
        409: problem(
            "A request with this Idempotency-Key is still in progress; retry after"
            " `Retry-After` seconds"
        ),
        422: problem("The Idempotency-Key was used for a different request"),
    }
)
def get_idempotency_key(request: Request) -> str:
    """The write's key. Read from the headers here, so that a missing or repeated one
    answers 400; the OpenAPI document declares it required, with its pattern."""
    values = request.headers.getlist("idempotency-key")
    if not values:
        raise _bad_key("the Idempotency-Key header is required on every write")
    if len(values) > 1:
        raise _bad_key("send the Idempotency-Key header once")
    try:
        return parse_idempotency_key(values[0])
    except ValueError as exc:
        raise _bad_key(f"Idempotency-Key {exc}") from None


def _bad_key(detail: str) -> ProblemError:
    return ProblemError(
        400,
        "Bad Idempotency-Key",
        detail,
        errors=[FieldError(field="Idempotency-Key", code="idempotency_key", message=detail)],
    )


IdempotencyKeyDep = Annotated[str, Depends(get_idempotency_key)]
