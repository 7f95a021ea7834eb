"""Write endpoints that run once per Idempotency-Key, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from services.command_api.api_keys import Principal
from services.command_api.idempotency import Response, fingerprint, respond_once
from services.command_api.responses import idempotency_problems, idempotent_response
from shared.db.database import Database
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
