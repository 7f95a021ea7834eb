"""An organisation's own document bodies (``document_templates``), looked up within it."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import DocumentTemplate
from shared.emails.locales import Locale


def find_document_template(
    session: Session,
    organisation_id: UUID,
    purpose: str,
    locale: Locale,
    *,
    for_update: bool = False,
) -> DocumentTemplate | None:
    """The organisation's body for ``purpose`` in ``locale``, or None for the built-in."""
    query = select(DocumentTemplate).where(
        DocumentTemplate.organisation_id == organisation_id,
        DocumentTemplate.purpose == purpose,
        DocumentTemplate.locale == locale,
    )
    return session.scalar(query.with_for_update() if for_update else query)
