"""Write endpoints that run once per Idempotency-Key, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.command_api.api_keys import Principal
from services.command_api.idempotency import Response, fingerprint, respond_once
from services.command_api.problems import ProblemError
from services.command_api.responses import idempotency_problems, idempotent_response
from shared.db.database import Database
from shared.db.types import utcnow
from shared.settings import Settings


def write_once(
    db: Database,
    settings: Settings,
    principal: Principal,
    key: str,
    *,
    request: str,
    body: Any,
    produce: Callable[[Session], Response],
    location: Callable[[dict[str, Any]], str],
) -> JSONResponse:
    """Replay the stored response to ``key``, or ``produce`` it and store it.

    ``request`` names the method and route, so one key cannot be replayed on another
    endpoint; ``body`` is what the fingerprint compares.
    """
    with idempotency_problems(), db.transaction() as session:
        result = respond_once(
            session,
            organisation_id=principal.organisation_id,
            key=key,
            request_fingerprint=fingerprint(request, body),
            retention=timedelta(hours=settings.idempotency_retention_hours),
            produce=lambda: produce(session),
        )
    return idempotent_response(result, location)


class Versioned(Protocol):
    version: int
    created_at: datetime
    updated_at: datetime


V = TypeVar("V", bound=Versioned)


def save_version(
    session: Session,
    row: V | None,
    create: Callable[[], V],
    fill: Callable[[V], None],
    *,
    what: str,
) -> tuple[V, bool]:
    """An organisation's template saved: ``create()`` at version 1 when ``row`` is None
    (looked up ``FOR UPDATE`` by the caller), else ``row`` at the next version; ``fill``
    sets its content. Returns the row and whether it was created. Two first saves at
    once: the second answers 409, to retry."""
    now = utcnow()
    created = row is None
    if row is None:
        row = create()
        row.version, row.created_at = 1, now
        session.add(row)
    else:
        row.version += 1
    fill(row)
    row.updated_at = now
    try:
        session.flush()
    except IntegrityError:  # created by another request since the caller's lookup
        raise ProblemError(
            409,
            "Conflict",
            f"the {what} template was saved at the same time; retry",
            headers={"Retry-After": "1"},
        ) from None
    return row, created
