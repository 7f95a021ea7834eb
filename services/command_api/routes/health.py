"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

import pika
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up. Checks no dependency, so a database outage never restarts it."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        503: {
            "description": "Not ready: the database or the broker did not answer (`checks`"
            " says which)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def readyz(request: Request) -> JSONResponse:
    """Ready to take traffic: the database answers and the broker accepts a connection."""
    checks: dict[str, Any] = {}
    try:
        with request.app.state.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    settings = request.app.state.settings
    if settings.uses_stub_broker:
        checks["broker"] = "ok (in-process)"
    else:
        try:
            parameters = pika.URLParameters(settings.broker_url)
            parameters.socket_timeout = 2
            parameters.blocked_connection_timeout = 2
            pika.BlockingConnection(parameters).close()
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"error: {type(exc).__name__}"
    ready = all(str(v).startswith("ok") for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
