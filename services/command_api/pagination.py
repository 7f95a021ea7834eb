"""Keyset pagination over time-ordered ids (UUIDv7), with an opaque cursor.

A page is the rows whose id is above the cursor, in id order, and one more to
know whether a next page exists. The cursor is the last id of a page, as
URL-safe base64: stable while rows are added, and no offset to scan past.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar, TypeVarTuple
from uuid import UUID

from fastapi import Depends, Query
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from services.command_api.problems import invalid_field

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Ts = TypeVarTuple("Ts")
Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    after: UUID | None = None


def encode_cursor(last_id: UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> UUID:
    """The id a cursor stands for; ``ValueError`` for anything this API did not hand out."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not a cursor from this API") from None
    if len(raw) != 16 or encode_cursor(UUID(bytes=raw)) != cursor:
        raise ValueError("is not a cursor from this API")
    return UUID(bytes=raw)


def page_request(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page, 1 to {MAX_LIMIT}.")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=64, description="`next_cursor` of the previous page; omit for the first."),
    ] = None,
) -> PageRequest:
    if cursor is None:
        return PageRequest(limit)
    try:
        return PageRequest(limit, decode_cursor(cursor))
    except ValueError as exc:
        raise invalid_field("cursor", "invalid_cursor", str(exc)) from None


PageDep = Annotated[PageRequest, Depends(page_request)]


def keyset(
    query: Select[*Ts], id_column: InstrumentedAttribute[UUID], page: PageRequest
) -> Select[*Ts]:
    """``query`` narrowed to one page, plus one row that tells whether another follows."""
    if page.after is not None:
        query = query.where(id_column > page.after)
    return query.order_by(id_column).limit(page.limit + 1)


def split_page(
    rows: Sequence[Row], page: PageRequest, id_of: Callable[[Row], UUID]
) -> tuple[list[Row], str | None]:
    """The page's rows and the cursor of the next page (``None`` on the last page)."""
    if len(rows) <= page.limit:
        return list(rows), None
    kept = list(rows[: page.limit])
    return kept, encode_cursor(id_of(kept[-1]))
