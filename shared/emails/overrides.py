"""An organisation's own templates (``email_templates``), always looked up within it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Protocol
from uuid import UUID

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from shared.db.driver_statements import run
from shared.db.models import EmailTemplate
from shared.emails.locales import Locale
from shared.emails.purposes import Purpose
from shared.emails.template_set import TemplateSet

_templates: Table = EmailTemplate.__table__  # type: ignore[assignment]
# The organisation's template for a purpose and locale (parameters organisation,
# purpose, locale).
_THIS_TEMPLATE: Final = (
    _templates.c.organisation_id == bindparam("organisation"),
    _templates.c.purpose == bindparam("purpose"),
    _templates.c.locale == bindparam("locale"),
)
_OVERRIDE: Final = select(
    _templates.c.subject, _templates.c.text, _templates.c.html, _templates.c.version
).where(*_THIS_TEMPLATE)


def find_override(
    session: Session,
    organisation_id: UUID,
    purpose: Purpose,
    locale: Locale,
    *,
    for_update: bool = False,
) -> EmailTemplate | None:
    """The organisation's template for ``purpose`` in ``locale``, or None for the built-in."""
    query = select(EmailTemplate).where(*_THIS_TEMPLATE)
    return session.scalar(
        query.with_for_update() if for_update else query,
        {"organisation": organisation_id, "purpose": purpose, "locale": locale},
    )


@dataclass(frozen=True, slots=True)
class Override:
    templates: TemplateSet
    version: int


@dataclass(frozen=True, slots=True)
class FoundOverride:
    """What a lookup for one purpose and locale found, when a statement that read
    something else did it (the mail worker's claim): ``override`` None is the built-in."""

    purpose: str
    locale: str
    override: Override | None

    def answers(self, purpose: Purpose, locale: Locale) -> bool:
        return (self.purpose, self.locale) == (purpose, locale)


# The columns of an organisation's template, for a statement that outer-joins
# ``email_templates`` to something else (whose other columns must not be named
# ``subject``, ``text``, ``html`` or ``version``): what ``found_override`` reads.
OVERRIDE_COLUMNS: Final = (
    _templates.c.id.label("template_id"),
    *_OVERRIDE.selected_columns,
)


def found_override(row: Any, purpose: str, locale: str) -> FoundOverride:
    """The lookup for ``purpose`` and ``locale`` whose outer join ``row`` holds."""
    if row.template_id is None:
        return FoundOverride(purpose, locale, None)
    return FoundOverride(purpose, locale, Override(template_set(row), row.version))


def override_to_send(
    session: Session, organisation_id: UUID, purpose: Purpose, locale: Locale
) -> Override | None:
    """The organisation's template for an email about to be sent (read on the driver
    path: no ORM object); None for the built-in."""
    params = {"organisation": organisation_id, "purpose": purpose, "locale": locale}
    rows = run(session.connection(), _OVERRIDE, params)
    if not rows:
        return None
    return Override(template_set(rows[0]), rows[0].version)


class _TemplateRow(Protocol):
    subject: str
    text: str
    html: str


def template_set(row: _TemplateRow) -> TemplateSet:
    """The sources of an ``email_templates`` row, ORM object or plain row."""
    return TemplateSet(subject=row.subject, text=row.text, html=row.html)
