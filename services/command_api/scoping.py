"""Loading one row by id within the caller's organisation; any other id is not found."""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.command_api.problems import not_found
from shared.db.models import Application, Department, Employee, Position, RejectionReason, Vacancy

Owned = TypeVar("Owned", Application, Department, Employee, Position, RejectionReason, Vacancy)


def find_owned(
    session: Session,
    model: type[Owned],
    ident: UUID,
    organisation_id: UUID,
    *,
    for_update: bool = False,
) -> Owned | None:
    query = select(model).where(model.id == ident, model.organisation_id == organisation_id)
    return session.scalar(query.with_for_update() if for_update else query)


def get_owned(
    session: Session,
    model: type[Owned],
    ident: UUID,
    organisation_id: UUID,
    *,
    what: str,
    for_update: bool = False,
) -> Owned:
    """The row, or a 404 problem naming ``what`` (e.g. "department")."""
    row = find_owned(session, model, ident, organisation_id, for_update=for_update)
    if row is None:
        raise not_found(what, ident)
    return row
