"""Stored documents: an application's list, one download, and printed letters as one PDF."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from typing import Annotated, Any, Final
from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, Field
from pypdf import PdfWriter
from sqlalchemy import select

from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import DatabaseDep, StorageDep, require
from services.command_api.problems import invalid_field, not_found
from services.command_api.responses import GET_ERRORS, LIST_ERRORS
from services.command_api.scoping import get_owned
from shared.db.models import Application, Document

router = APIRouter(tags=["documents"])
ReaderDep = Annotated[Principal, Depends(require(Scope.DOCUMENTS_READ))]

MAX_PRINT_BATCH: Final = 500
_PDF: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {"application/pdf": {}}, "description": "The PDF"}
}


class DocumentView(BaseModel):
    id: UUID
    application_id: UUID | None
    command_id: UUID | None
    kind: str = Field(description="cv | contract | letter | profile")
    purpose: str = Field(description="contract, letter_received, letter_rejected, profile, cv")
    version: int = Field(description="Counts the application's documents of this purpose.")
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    pages: int | None
    locale: str | None
    template_version: str | None
    created_at: datetime
    download: str = Field(description="GET this path for the file.")


class DocumentList(BaseModel):
    items: list[DocumentView]


class PrintBatch(BaseModel):
    document_ids: list[UUID] = Field(min_length=1, max_length=MAX_PRINT_BATCH)


def _view(document: Document) -> DocumentView:
    return DocumentView.model_validate(
        {
            **{
                key: getattr(document, key)
                for key in DocumentView.model_fields
                if key != "download"
            },
            "download": f"/v1/documents/{document.id}",
        }
    )


@router.get(
    "/v1/applications/{application_id}/documents",
    response_model=DocumentList,
    responses=GET_ERRORS,
)
def list_application_documents(
    application_id: UUID, principal: ReaderDep, db: DatabaseDep
) -> DocumentList:
    """The application's stored documents (contracts, letters, profiles), oldest first."""
    with db.transaction() as session:
        get_owned(
            session, Application, application_id, principal.organisation_id, what="application"
        )
        documents = session.scalars(
            select(Document)
            .where(
                Document.application_id == application_id,
                Document.organisation_id == principal.organisation_id,
            )
            .order_by(Document.created_at, Document.id)
        )
        return DocumentList(items=[_view(d) for d in documents])


@router.get("/v1/documents/{document_id}", responses={**_PDF, **GET_ERRORS})
def download_document(
    document_id: UUID, principal: ReaderDep, db: DatabaseDep, storage: StorageDep
) -> Response:
    """The file itself, as stored (its SHA-256 is the ETag)."""
    with db.transaction() as session:
        document = session.scalar(
            select(Document).where(
                Document.id == document_id, Document.organisation_id == principal.organisation_id
            )
        )
        if document is None:
            raise not_found("document", document_id)
    return Response(
        storage.get(document.storage_key),
        media_type=document.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{document.filename}"',
            "ETag": f'"{document.sha256}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/v1/documents/print", responses={**_PDF, **LIST_ERRORS})
def print_documents(
    batch: PrintBatch, principal: ReaderDep, db: DatabaseDep, storage: StorageDep
) -> Response:
    """Stored PDFs (printed letters, say, for many applications) as one PDF, in the order
    given, ready to print. Stores nothing."""
    with db.transaction() as session:
        found = {
            d.id: d
            for d in session.scalars(
                select(Document).where(
                    Document.id.in_(batch.document_ids),
                    Document.organisation_id == principal.organisation_id,
                )
            )
        }
    for index, document_id in enumerate(batch.document_ids):
        document = found.get(document_id)
        if document is None:
            raise invalid_field(
                f"document_ids.{index}", "not_found", f"document {document_id} not found"
            )
        if document.content_type != "application/pdf":
            raise invalid_field(
                f"document_ids.{index}", "not_pdf", f"document {document_id} is not a PDF"
            )
    merged = PdfWriter()
    for document_id in batch.document_ids:
        merged.append(BytesIO(storage.get(found[document_id].storage_key)))
    out = BytesIO()
    merged.write(out)
    return Response(
        out.getvalue(),
        media_type="application/pdf",
        headers={
            "Content-Disposition": 'attachment; filename="documents.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
