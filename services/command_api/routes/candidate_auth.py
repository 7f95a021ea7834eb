"""``/v1/candidate-auth``: the careers portal sets candidates' passwords and logs them in.

The portal calls these with its organisation's API key (scope ``candidate_auth``); the
candidate never talks to werving directly. Neither POST takes an ``Idempotency-Key``:
see :data:`NOT_IDEMPOTENT`.
"""

from __future__ import annotations

from typing import Annotated, Final
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AfterValidator, BaseModel, Field, SecretStr
from pydantic_core import PydanticCustomError

from services.command_api.api_keys import Principal, Scope
from services.command_api.candidate_passwords import (
    LOCKOUT,
    MAX_FAILED_LOGINS,
    PASSWORD_MAX_CHARS,
    PASSWORD_MIN_CHARS,
    Clock,
    LoginFailed,
    LoginLimiter,
    LoginLocked,
    TokenRefused,
    log_in,
    set_password,
)
from services.command_api.deps import DatabaseDep, require
from services.command_api.problems import FieldError, ProblemError
from services.command_api.responses import problem
from shared.commands.base import Contract
from shared.db.types import utcnow

router = APIRouter(prefix="/v1/candidate-auth", tags=["candidate auth"])

NOT_IDEMPOTENT: Final = (
    "Not idempotent and takes no `Idempotency-Key`: the response carries no state worth"
    " replaying, and the body holds a secret that must never be stored, which a replay"
    " table would have to do. Retrying is safe: a consumed link answers 410, a login is"
    " simply tried again."
)

PortalDep = Annotated[Principal, Depends(require(Scope.CANDIDATE_AUTH))]


def get_clock() -> Clock:
    """The current time; tests override this dependency to move past an expiry."""
    return utcnow


ClockDep = Annotated[Clock, Depends(get_clock)]


def get_login_limiter(request: Request) -> LoginLimiter:
    """The process's limiter, made on first use."""
    limiter: LoginLimiter | None = getattr(request.app.state, "candidate_login_limiter", None)
    if limiter is None:
        limiter = request.app.state.candidate_login_limiter = LoginLimiter()
    return limiter


LimiterDep = Annotated[LoginLimiter, Depends(get_login_limiter)]


def _password(value: SecretStr) -> SecretStr:
    if not PASSWORD_MIN_CHARS <= len(value.get_secret_value()) <= PASSWORD_MAX_CHARS:
        raise PydanticCustomError(
            "password_length",
            "a password has {min} to {max} characters",
            {"min": PASSWORD_MIN_CHARS, "max": PASSWORD_MAX_CHARS},
        )
    return value


Password = Annotated[
    SecretStr,
    AfterValidator(_password),
    Field(description=f"{PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters."),
]


class SetPasswordIn(Contract):
    token: SecretStr = Field(description="The token from the set-password link's `token`.")
    password: Password


class LoginIn(Contract):
    username: str = Field(min_length=1, max_length=254, description="The candidate's email.")
    password: Password


class LoginOut(BaseModel):
    applicant_id: UUID


_TOKEN_PROBLEMS: Final = {
    "unknown": (400, "Invalid link", "this set-password link is not valid"),
    "revoked": (410, "Link replaced", "a newer set-password link replaced this one"),
    "used": (410, "Link used", "this set-password link was already used"),
    "expired": (410, "Link expired", "this set-password link has expired; ask for a new one"),
}


@router.post(
    "/set-password",
    status_code=204,
    summary="Set a candidate's password with a one-time link",
    description="Consumes the token of a set-password link (sent in the credentials email)"
    " and sets the account's password. An unknown token answers 400; a used, replaced or"
    f" expired one 410, and nothing changes. {NOT_IDEMPOTENT}",
    responses={
        400: problem("The token is not valid (unknown in this organisation)"),
        410: problem("The link was used, replaced by a newer one, or expired"),
        422: problem("Invalid body: the password is too short or too long"),
    },
)
def set_candidate_password(
    body: SetPasswordIn, principal: PortalDep, db: DatabaseDep, clock: ClockDep
) -> Response:
    try:
        set_password(
            db,
            principal.organisation_id,
            body.token.get_secret_value(),
            body.password.get_secret_value(),
            now=clock(),
        )
    except TokenRefused as refused:
        status, title, detail = _TOKEN_PROBLEMS[refused.problem]
        raise ProblemError(
            status,
            title,
            detail,
            errors=[FieldError(field="token", code=f"token_{refused.problem}", message=detail)],
        ) from None
    return Response(status_code=204)


@router.post(
    "/login",
    response_model=LoginOut,
    summary="Check a candidate's username and password",
    description="Answers the applicant the account belongs to, or 401 for an unknown"
    f" username and a wrong password alike. After {MAX_FAILED_LOGINS} failed attempts in a"
    f" row the account is locked for {LOCKOUT.seconds // 60} minutes (429 with"
    f" `Retry-After`). {NOT_IDEMPOTENT}",
    responses={
        401: problem("Unknown username or wrong password"),
        429: problem("Too many attempts: try again after `Retry-After` seconds"),
    },
)
def log_candidate_in(
    body: LoginIn, principal: PortalDep, db: DatabaseDep, clock: ClockDep, limiter: LimiterDep
) -> LoginOut:
    now = clock()
    try:
        limiter.check(principal.organisation_id, body.username, now)
        applicant_id = log_in(
            db, principal.organisation_id, body.username, body.password.get_secret_value(), now=now
        )
    except LoginLocked as locked:
        raise ProblemError(
            429,
            "Too many attempts",
            f"try again in {locked.retry_after_s} seconds",
            headers={"Retry-After": str(locked.retry_after_s)},
        ) from None
    except LoginFailed:
        raise ProblemError(401, "Login failed", "the username or password is wrong") from None
    return LoginOut(applicant_id=applicant_id)
