"""``/v1/document-templates``: an organisation's own bodies for its contracts, letters
and anonymized profiles.

One body per purpose and locale; the page around it (A4, letterhead with the logo,
page numbers) stays werving's. A body is checked when it is saved (the sandbox's rules,
only the purpose's variables, a render with sample values), so what is stored is what
document_worker can render; a body that still breaks the PDF limits fails its job
with the reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import DatabaseDep, IdempotencyKeyDep, SettingsDep, require
from services.command_api.idempotency import Response
from services.command_api.problems import FieldError, ProblemError
from services.command_api.responses import (
    TEMPLATE_PREVIEW_ERRORS,
    TEMPLATE_READ_ERRORS,
    TEMPLATE_WRITE_ERRORS,
)
from services.command_api.writes import save_version, write_once
from shared.commands.base import Contract
from shared.db.models import DocumentTemplate
from shared.documents.overrides import find_document_template
from shared.documents.purposes import PURPOSES, builtin_source, check_template, sample_values
from shared.emails.locales import LOCALES, Locale
from shared.templates.sandbox import MAX_SOURCE_BYTES, TemplateProblem, render

router = APIRouter(prefix="/v1/document-templates", tags=["document templates"])
ReaderDep = Annotated[Principal, Depends(require(Scope.TEMPLATES_READ))]
WriterDep = Annotated[Principal, Depends(require(Scope.TEMPLATES_WRITE))]

DocumentPurposeName = Literal["contract", "letter_received", "letter_rejected", "profile"]
assert set(get_args(DocumentPurposeName)) == set(PURPOSES), "every document purpose has a path"


class DocumentTemplateIn(Contract):
    html: str = Field(
        max_length=MAX_SOURCE_BYTES,
        description="The body of the document, HTML, autoescaped. Jinja2 in a sandbox: only"
        " the purpose's variables (see `variables`), no include, import or extends.",
    )


class DocumentTemplateView(BaseModel):
    purpose: DocumentPurposeName
    locale: Locale
    source: Literal["organisation", "builtin"]
    version: int | None = Field(description="Goes up by one on every save; null for the built-in.")
    updated_at: datetime | None
    variables: list[str] = Field(description="The variables this purpose's body may use.")
    html: str


class RenderedDocumentBody(BaseModel):
    html: str = Field(
        description="The body rendered with the purpose's sample values. document_worker puts"
        " it in werving's page (A4, letterhead with the logo, page numbers) and renders the PDF."
    )


class DocumentTemplateSummary(BaseModel):
    purpose: DocumentPurposeName
    locale: Locale
    version: int
    updated_at: datetime


class DocumentTemplateList(BaseModel):
    items: list[DocumentTemplateSummary]
    purposes: list[DocumentPurposeName]
    locales: list[Locale]


def _path(purpose: str, locale: str) -> str:
    return f"/v1/document-templates/{purpose}/{locale}"


def _view(
    purpose: DocumentPurposeName, locale: Locale, row: DocumentTemplate | None
) -> DocumentTemplateView:
    return DocumentTemplateView(
        purpose=purpose,
        locale=locale,
        source="builtin" if row is None else "organisation",
        version=None if row is None else row.version,
        updated_at=None if row is None else row.updated_at,
        variables=sorted(PURPOSES[purpose].variables),
        html=builtin_source(purpose, locale) if row is None else row.html,
    )


def _checked(purpose: str, locale: Locale, html: str) -> str:
    """The body rendered with sample values; refused when the sandbox, the purpose's
    variables or that render reject it."""
    try:
        return render(check_template(purpose, html), sample_values(purpose, locale))
    except TemplateProblem as problem:
        raise ProblemError(
            422,
            "Invalid template",
            f"html: {problem}",
            errors=[FieldError(field="html", code="invalid_template", message=str(problem))],
        ) from None


@router.get("", response_model=DocumentTemplateList)
def list_document_templates(principal: ReaderDep, db: DatabaseDep) -> DocumentTemplateList:
    """The organisation's own bodies; every other purpose and locale uses the built-in."""
    with db.transaction() as session:
        rows = session.scalars(
            select(DocumentTemplate)
            .where(DocumentTemplate.organisation_id == principal.organisation_id)
            .order_by(DocumentTemplate.purpose, DocumentTemplate.locale)
        )
        items = [DocumentTemplateSummary.model_validate(r, from_attributes=True) for r in rows]
    return DocumentTemplateList(
        items=items, purposes=list(get_args(DocumentPurposeName)), locales=list(LOCALES)
    )


@router.get(
    "/{purpose}/{locale}", response_model=DocumentTemplateView, responses=TEMPLATE_READ_ERRORS
)
def get_document_template(
    purpose: DocumentPurposeName, locale: Locale, principal: ReaderDep, db: DatabaseDep
) -> DocumentTemplateView:
    """The organisation's body, or the built-in one (`"source": "builtin"`) to start from."""
    with db.transaction() as session:
        row = find_document_template(session, principal.organisation_id, purpose, locale)
        return _view(purpose, locale, row)


@router.post(
    "/{purpose}/{locale}/preview",
    response_model=RenderedDocumentBody,
    responses=TEMPLATE_PREVIEW_ERRORS,
)
def preview_document_template(
    purpose: DocumentPurposeName,
    locale: Locale,
    principal: ReaderDep,
    db: DatabaseDep,
    template_in: DocumentTemplateIn | None = None,
) -> RenderedDocumentBody:
    """The body rendered with the purpose's sample values: from the request's `html` when
    given, else the organisation's saved body, else the built-in. Nothing is saved, so no
    Idempotency-Key is needed. Refusals are those of saving."""
    if template_in is not None:
        source = template_in.html
    else:
        with db.transaction() as session:
            row = find_document_template(session, principal.organisation_id, purpose, locale)
        source = builtin_source(purpose, locale) if row is None else row.html
    return RenderedDocumentBody(html=_checked(purpose, locale, source))


@router.put(
    "/{purpose}/{locale}",
    response_model=DocumentTemplateView,
    responses={
        201: {"model": DocumentTemplateView, "description": "Created"},
        **TEMPLATE_WRITE_ERRORS,
    },
)
def put_document_template(
    purpose: DocumentPurposeName,
    locale: Locale,
    template_in: DocumentTemplateIn,
    principal: WriterDep,
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Save the organisation's body: `201` the first time, then `200` with the next
    `version`. A body that fails its checks answers `422` naming `html` and the line."""
    _checked(purpose, locale, template_in.html)

    def produce(session: Session) -> Response:
        row = find_document_template(
            session, principal.organisation_id, purpose, locale, for_update=True
        )

        def fill(row: DocumentTemplate) -> None:
            row.html = template_in.html

        row, created = save_version(
            session,
            row,
            lambda: DocumentTemplate(
                organisation_id=principal.organisation_id, purpose=purpose, locale=locale
            ),
            fill,
            what=f"{purpose}/{locale}",
        )
        view = _view(purpose, locale, row)
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
    "/{purpose}/{locale}", response_model=DocumentTemplateView, responses=TEMPLATE_WRITE_ERRORS
)
def delete_document_template(
    purpose: DocumentPurposeName,
    locale: Locale,
    principal: WriterDep,
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Go back to the built-in body, which the answer shows."""

    def produce(session: Session) -> Response:
        row = find_document_template(
            session, principal.organisation_id, purpose, locale, for_update=True
        )
        if row is not None:
            session.delete(row)
        return Response(200, _view(purpose, locale, None).model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request=f"DELETE {_path(purpose, locale)}",
        body={},
        produce=produce,
        location=lambda _body: _path(purpose, locale),
    )
