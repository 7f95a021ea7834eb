"""An organisation's email templates: checked before they are saved, shown as they are used.

The checks and the rendering are the ones mail_worker sends with (:mod:`shared.emails`), so a
template the API accepts is one the worker can send, and a preview is what it would send.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.orm import Session

from services.command_api.email_template_schemas import EmailTemplateIn, EmailTemplateView
from services.command_api.problems import FieldError, ProblemError
from services.command_api.writes import save_version
from shared.db.models import EmailTemplate
from shared.emails.builtin import builtin_template_set
from shared.emails.locales import Locale
from shared.emails.overrides import find_override
from shared.emails.purposes import Purpose, allowed_variables
from shared.emails.rendering import RenderedEmail, preview_email
from shared.emails.template_set import TemplatePartProblem, TemplateSet


def template_refused(problem: TemplatePartProblem) -> ProblemError:
    """A 422 whose field is the failing part (``subject``, ``text``, ``html``), with the line."""
    where = problem.message if problem.line is None else f"line {problem.line}: {problem.message}"
    return ProblemError(
        422,
        "Invalid template",
        f"{problem.part}: {where}",
        errors=[FieldError(field=problem.part, code="invalid_template", message=where)],
    )


def render_sample(purpose: Purpose, locale: Locale, templates: TemplateSet | None) -> RenderedEmail:
    """``templates`` (or the built-in) checked and rendered with the purpose's sample values."""
    try:
        return preview_email(purpose, locale, override=templates)
    except TemplatePartProblem as problem:
        raise template_refused(problem) from None


def as_template_set(template_in: EmailTemplateIn) -> TemplateSet:
    return TemplateSet(subject=template_in.subject, text=template_in.text, html=template_in.html)


def template_view(purpose: Purpose, locale: Locale, row: EmailTemplate | None) -> EmailTemplateView:
    """The organisation's template ``row``, or the built-in one when there is none."""
    variables = sorted(allowed_variables(purpose))
    if row is None:
        builtin = builtin_template_set(purpose, locale)
        return EmailTemplateView(
            purpose=purpose,
            locale=locale,
            source="builtin",
            version=None,
            updated_at=None,
            variables=variables,
            subject=builtin.subject,
            text=builtin.text,
            html=builtin.html,
        )
    return EmailTemplateView(
        purpose=purpose,
        locale=locale,
        source="organisation",
        version=row.version,
        updated_at=row.updated_at,
        variables=variables,
        subject=row.subject,
        text=row.text,
        html=row.html,
    )


def save(
    session: Session,
    organisation_id: UUID,
    purpose: Purpose,
    locale: Locale,
    template_in: EmailTemplateIn,
) -> tuple[EmailTemplate, bool]:
    """Store the (already checked) template: a new row at version 1, or the next version
    of the existing one. Returns the row and whether it was created."""
    row = find_override(session, organisation_id, purpose, locale, for_update=True)

    def fill(row: EmailTemplate) -> None:
        row.subject, row.text, row.html = template_in.subject, template_in.text, template_in.html

    return save_version(
        session,
        row,
        lambda: EmailTemplate(organisation_id=organisation_id, purpose=purpose, locale=locale),
        fill,
        what=f"{purpose}/{locale}",
    )


def reset(session: Session, organisation_id: UUID, purpose: Purpose, locale: Locale) -> None:
    """Forget the organisation's template: the built-in is used again (a no-op without one)."""
    row = find_override(session, organisation_id, purpose, locale, for_update=True)
    if row is not None:
        session.delete(row)
        session.flush()
