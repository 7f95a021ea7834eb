"""``/v1/email-templates``: an organisation's own versions of werving's emails.

One template per purpose and locale, with a subject, a text and an HTML part. Without
one, werving sends its built-in email. A template is checked when it is saved (the
sandbox's rules, the purpose's variables, and a render with sample values), so what is
stored is what mail_worker can send.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import DatabaseDep, IdempotencyKeyDep, SettingsDep, require
from services.command_api.email_template_schemas import (
    EmailTemplateIn,
    EmailTemplateList,
    EmailTemplateSummary,
    EmailTemplateView,
    RenderedEmailView,
)
from services.command_api.email_templates import (
    as_template_set,
    render_sample,
    reset,
    save,
    template_view,
)
from services.command_api.idempotency import Response
from services.command_api.responses import (
    TEMPLATE_PREVIEW_ERRORS,
    TEMPLATE_READ_ERRORS,
    TEMPLATE_WRITE_ERRORS,
)
from services.command_api.writes import write_once
from shared.db.models import EmailTemplate
from shared.emails.locales import LOCALES, Locale
from shared.emails.overrides import find_override, template_set
from shared.emails.purposes import PURPOSES, Purpose

router = APIRouter(prefix="/v1/email-templates", tags=["email templates"])

ReaderDep = Annotated[Principal, Depends(require(Scope.TEMPLATES_READ))]
WriterDep = Annotated[Principal, Depends(require(Scope.TEMPLATES_WRITE))]


def _path(purpose: Purpose, locale: Locale) -> str:
    return f"/v1/email-templates/{purpose}/{locale}"


@router.get("", response_model=EmailTemplateList)
def list_email_templates(principal: ReaderDep, db: DatabaseDep) -> EmailTemplateList:
    """The organisation's own templates, and every purpose and locale there is."""
    query = (
        select(EmailTemplate)
        .where(EmailTemplate.organisation_id == principal.organisation_id)
        .order_by(EmailTemplate.purpose, EmailTemplate.locale)
    )
    with db.transaction() as session:
        items = [
            EmailTemplateSummary.model_validate(row, from_attributes=True)
            for row in session.scalars(query)
        ]
    return EmailTemplateList(items=items, purposes=list(PURPOSES), locales=list(LOCALES))


@router.get("/{purpose}/{locale}", response_model=EmailTemplateView, responses=TEMPLATE_READ_ERRORS)
def get_email_template(
    purpose: Purpose, locale: Locale, principal: ReaderDep, db: DatabaseDep
) -> EmailTemplateView:
    """The organisation's template, or the built-in one (`"source": "builtin"`) to start from."""
    with db.transaction() as session:
        row = find_override(session, principal.organisation_id, purpose, locale)
        return template_view(purpose, locale, row)


@router.put(
    "/{purpose}/{locale}",
    response_model=EmailTemplateView,
    responses={
        201: {"model": EmailTemplateView, "description": "Created"},
        **TEMPLATE_WRITE_ERRORS,
    },
)
def put_email_template(
    purpose: Purpose,
    locale: Locale,
    template_in: EmailTemplateIn,
    principal: WriterDep,
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Save the organisation's template: `201` the first time, then `200` with the next
    `version`. A template that fails its checks answers `422`, each error naming the part
    (`subject`, `text` or `html`) and, for a syntax error, the line."""
    render_sample(purpose, locale, as_template_set(template_in))

    def produce(session: Session) -> Response:
        row, created = save(session, principal.organisation_id, purpose, locale, template_in)
        view = template_view(purpose, locale, row)
        return Response(201 if created else 200, view.model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request=f"PUT {_path(purpose, locale)}",
        body=template_in.model_dump(),
        produce=produce,
        location=lambda _body: _path(purpose, locale),
    )


@router.delete(
    "/{purpose}/{locale}", response_model=EmailTemplateView, responses=TEMPLATE_WRITE_ERRORS
)
def delete_email_template(
    purpose: Purpose,
    locale: Locale,
    principal: WriterDep,
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Go back to the built-in email, which the answer shows. Without an organisation
    template this changes nothing."""

    def produce(session: Session) -> Response:
        reset(session, principal.organisation_id, purpose, locale)
        return Response(200, template_view(purpose, locale, None).model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request=f"DELETE {_path(purpose, locale)}",
        body=None,
        produce=produce,
        location=lambda _body: _path(purpose, locale),
    )


@router.post(
    "/{purpose}/{locale}/preview",
    response_model=RenderedEmailView,
    responses=TEMPLATE_PREVIEW_ERRORS,
)
def preview_email_template(
    purpose: Purpose,
    locale: Locale,
    principal: ReaderDep,
    db: DatabaseDep,
    template_in: EmailTemplateIn | None = None,
) -> RenderedEmailView:
    """The email rendered with the purpose's sample values: from the body's templates when
    given, else the organisation's saved template, else the built-in. Nothing is sent or
    saved, so no Idempotency-Key is needed. Refusals are those of saving."""
    templates = None if template_in is None else as_template_set(template_in)
    if templates is None:
        with db.transaction() as session:
            row = find_override(session, principal.organisation_id, purpose, locale)
            templates = None if row is None else template_set(row)
    email = render_sample(purpose, locale, templates)
    return RenderedEmailView(subject=email.subject, text=email.text, html=email.html)
