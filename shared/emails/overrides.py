"""An organisation's own templates (``email_templates``), always looked up within it."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import EmailTemplate
from shared.emails.locales import Locale
from shared.emails.purposes import Purpose
from shared.emails.template_set import TemplateSet


def find_override(
    session: Session,
    organisation_id: UUID,
    purpose: Purpose,
    locale: Locale,
    *,
    for_update: bool = False,
) -> EmailTemplate | None:
    """The organisation's template for ``purpose`` in ``locale``, or None for the built-in."""
    query = select(EmailTemplate).where(
        EmailTemplate.organisation_id == organisation_id,
        EmailTemplate.purpose == purpose,
        EmailTemplate.locale == locale,
    )
    return session.scalar(query.with_for_update() if for_update else query)


def template_set(row: EmailTemplate) -> TemplateSet:
    return TemplateSet(subject=row.subject, text=row.text, html=row.html)
