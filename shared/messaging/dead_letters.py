"""Recording dead letters, so that none expires unseen in a ``.XQ`` queue."""

from __future__ import annotations

import base64
import json
from collections.abc import Collection
from typing import Final
from uuid import UUID

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from shared.db.models import DeadLetter
from shared.ids import new_id
from shared.storable_text import printable

ERASED_BODY: Final = json.dumps({"erased": True})
# What is kept of a larger body: enough to see what it was. The reason states its size.
MAX_STORED_BODY_BYTES: Final = 64 * 1024
MAX_REASON_CHARS: Final = 4000


def record_dead_letter(
    session: Session,
    *,
    source: str,
    queue: str,
    reason: str,
    body: str | bytes,
    actor_name: str | None = None,
    message_id: str | None = None,
    organisation_id: UUID | None = None,
    command_id: UUID | None = None,
) -> DeadLetter:
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > MAX_STORED_BODY_BYTES:
        stored = f" (body of {len(raw)} bytes: the first {MAX_STORED_BODY_BYTES} stored)"
        reason = reason[: MAX_REASON_CHARS - len(stored)] + stored
        body = _first_bytes(raw, MAX_STORED_BODY_BYTES)
    letter = DeadLetter(
        id=new_id(),
        source=source,
        queue=_storable_text(queue, 120),
        actor_name=_storable_text(actor_name, 120) if actor_name else None,
        message_id=_storable_text(message_id, 120) if message_id else None,
        organisation_id=organisation_id,
        command_id=command_id,
        reason=_storable_text(reason, MAX_REASON_CHARS),
        **storable_body(body),
    )
    session.add(letter)
    return letter


def _storable_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit``, what PostgreSQL cannot store shown escaped: a hostile
    message's field names and ids end up in these columns."""
    return printable(text)[:limit]


def _first_bytes(raw: bytes, limit: int) -> bytes:
    """The first ``limit`` bytes, less a UTF-8 character the cut would split."""
    head = raw[:limit]
    for end in range(len(head), max(len(head) - 4, 0), -1):
        try:
            head[:end].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return head[:end]
    return head  # not UTF-8 anyway: stored as base64


def storable_body(body: str | bytes) -> dict[str, str]:
    """The body as text when it can be stored as such, else base64, never altered."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return {"body": base64.b64encode(body).decode(), "body_encoding": "base64"}
    else:
        text = body
    if "\x00" in text:
        return {"body": base64.b64encode(text.encode()).decode(), "body_encoding": "base64"}
    return {"body": text, "body_encoding": "utf-8"}


def erase_dead_letters(
    session: Session,
    organisation_id: UUID,
    *,
    command_ids: Collection[UUID],
    mentioning: Collection[UUID],
) -> None:
    """Erase the body and reason of this organisation's dead letters that belong to
    ``command_ids`` or whose text names one of the ids in ``mentioning``: they may
    hold the personal data a purge must remove. The row stays, as a PII-free trace
    that something failed; an erased letter cannot be replayed.

    Base64 bodies (not UTF-8) are not searched: nothing in them can be matched as text.
    """
    names = [DeadLetter.body.contains(str(i), autoescape=True) for i in mentioning]
    if command_ids:
        names.append(DeadLetter.command_id.in_(command_ids))
    if not names:
        return
    session.execute(
        update(DeadLetter)
        .where(DeadLetter.organisation_id == organisation_id, or_(*names))
        .values(body=ERASED_BODY, body_encoding="utf-8", reason="erased by a purge")
        .execution_options(synchronize_session=False)
    )
