"""Idempotency keys: the first response to a key is stored and replayed.

One transaction per request (the API only writes to the database): it takes a
per-key lock, replays a stored response for the same request, refuses the key
for a different one, or runs the request and stores its response.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shared.db.models import IdempotencyRecord
from shared.db.types import utcnow


class KeyInProgress(Exception):  # noqa: N818 - a state the client should retry after
    """Another request with this key is still running."""


class KeyReused(Exception):  # noqa: N818
    """The key was used before for a different request."""


@dataclass(frozen=True, slots=True)
class Response:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def fingerprint(scope: str, body: Any) -> str:
    """SHA-256 over a scope (method and route, or "command") and the canonical JSON body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{scope}\n{canonical}".encode()).hexdigest()


def _lock_id(organisation_id: UUID, key: str) -> int:
    digest = hashlib.sha256(f"{organisation_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _lock_key(session: Session, organisation_id: UUID, key: str) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already serialises every writer
    acquired = session.scalar(
        select(func.pg_try_advisory_xact_lock(_lock_id(organisation_id, key)))
    )
    if not acquired:
        raise KeyInProgress(key)


def respond_once(
    session: Session,
    *,
    organisation_id: UUID,
    key: str,
    request_fingerprint: str,
    retention: timedelta,
    produce: Callable[[], Response],
) -> Response:
    """Replay the stored response for ``key``, or ``produce`` one and store it."""
    _lock_key(session, organisation_id, key)
    now = utcnow()
    existing = session.get(IdempotencyRecord, (organisation_id, key))
    if existing is not None and existing.expires_at > now:
        if existing.fingerprint != request_fingerprint:
            raise KeyReused(key)
        return Response(existing.response_status, existing.response_body, replayed=True)
    if existing is not None:  # expired: the key is free again
        session.delete(existing)
        session.flush()
    response = produce()
    session.add(
        IdempotencyRecord(
            organisation_id=organisation_id,
            key=key,
            fingerprint=request_fingerprint,
            response_status=response.status_code,
            response_body=response.body,
            created_at=now,
            expires_at=now + retention,
        )
    )
    return response


def delete_expired(session: Session, *, batch: int = 10_000) -> int:
    """Forget expired keys (the reaper); returns how many went."""
    expired = (
        select(IdempotencyRecord.organisation_id, IdempotencyRecord.key)
        .where(IdempotencyRecord.expires_at <= utcnow())
        .limit(batch)
    )
    rows = session.execute(expired).all()
    for organisation_id, key in rows:
        session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.organisation_id == organisation_id, IdempotencyRecord.key == key
            )
        )
    return len(rows)
