"""Stored documents: an application's list, one download, and printed letters as one PDF."""

from __future__ import annotations

import hashlib
import re
import zipfile
from datetime import datetime
from email.message import Message
from io import BytesIO
from typing import Annotated, Any, Final
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Header, Query
from fastapi.responses import JSONResponse
from fastapi.responses import Response as HttpResponse
from pydantic import BaseModel, Field
from pypdf import PdfWriter
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import (
    DatabaseDep,
    IdempotencyKeyDep,
    SettingsDep,
    StorageDep,
    require,
)
from services.command_api.idempotency import Response
from services.command_api.problems import ProblemError, invalid_field, not_found
from services.command_api.responses import NOT_FOUND, problem
from services.command_api.scoping import get_owned
from services.command_api.writes import write_once
from shared.commands.base import Contract
from shared.db.models import Application, Document
from shared.db.types import utcnow
from shared.documents.storage import DocumentMissing
from shared.ids import new_id
from shared.storable_text import UNSTORABLE_CODE, unstorable_reason

router = APIRouter(tags=["documents"])
ReaderDep = Annotated[Principal, Depends(require(Scope.DOCUMENTS_READ))]
WriterDep = Annotated[Principal, Depends(require(Scope.DOCUMENTS_WRITE))]

MAX_CV_BYTES: Final = 10 * 1024 * 1024
_DOCX: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CV_TYPES: Final = {"application/pdf": ".pdf", _DOCX: ".docx"}
# What each type starts with (a DOCX is a ZIP archive): the upload must be what it says.
CV_SIGNATURES: Final = {"application/pdf": b"%PDF-", _DOCX: b"PK\x03\x04"}
SAFE_FILENAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}\.(pdf|docx)")

MAX_PRINT_BATCH: Final = 500
MAX_PRINT_BYTES: Final = 100 * 1024 * 1024
_PDF: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {"application/pdf": {}}, "description": "The PDF"}
}
_STORED: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {t: {} for t in CV_TYPES}, "description": "The file, of its stored type"}
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


class PrintBatch(Contract):
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


@router.post(
    "/v1/documents",
    status_code=201,
    response_model=DocumentView,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in CV_TYPES},
        }
    },
)
def upload_cv(
    data: Annotated[bytes, Body(media_type="application/pdf")],
    principal: WriterDep,
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
    storage: StorageDep,
    content_type: Annotated[str, Header()] = "",
    content_disposition: Annotated[
        str | None,
        Header(
            max_length=300,
            description='The file name: `attachment; filename="cv-ann.pdf"`. Preferred to'
            " the query parameter, which proxies and servers write into their access logs.",
        ),
    ] = None,
    filename: Annotated[
        str | None,
        Query(
            max_length=100,
            deprecated=True,
            description="The file name, e.g. `cv-ann.pdf`; send it in `Content-Disposition`.",
        ),
    ] = None,
) -> JSONResponse:
    """Upload an applicant's CV (PDF or DOCX, at most 10 MB, checked by its bytes) before
    the `register_application` that names it as `cv_document_id`. Its file name goes in
    the `Content-Disposition` header (`attachment; filename="cv-ann.pdf"`)."""
    if content_disposition and (reason := unstorable_reason(content_disposition)) is not None:
        raise invalid_field("content-disposition", UNSTORABLE_CODE, reason)
    media_type = checked_cv(content_type, data)
    name = _filename(content_disposition, filename)
    digest = hashlib.sha256(data).hexdigest()

    def produce(session: Session) -> Response:
        document = Document(
            id=new_id(),
            organisation_id=principal.organisation_id,
            kind="cv",
            purpose="cv",
            version=1,
            filename=name,
            content_type=media_type,
            size_bytes=len(data),
            sha256=digest,
            created_at=utcnow(),
        )
        document.storage_key = f"{principal.organisation_id}/{document.id}{CV_TYPES[media_type]}"
        storage.put(document.storage_key, data, content_type=media_type)
        session.add(document)
        return Response(201, _view(document).model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request="POST /v1/documents",
        body={"filename": name, "content_type": media_type, "sha256": digest},
        produce=produce,
        location=lambda body: str(body["download"]),
    )


def _filename(content_disposition: str | None, query: str | None) -> str:
    """The upload's file name, from ``Content-Disposition`` or (deprecated) the query."""
    field = "content-disposition" if content_disposition is not None else "filename"
    if content_disposition is not None and query is not None:
        raise invalid_field(field, "invalid", "give the file name once, in this header")
    if content_disposition is not None:
        header = Message()
        header["Content-Disposition"] = content_disposition
        given = header.get_filename() if header.get_content_disposition() else None
    else:
        given = query
    if given is None:
        raise invalid_field(
            "content-disposition", "missing", 'give the file name: attachment; filename="cv.pdf"'
        )
    if not SAFE_FILENAME.fullmatch(given):
        raise invalid_field(
            field, "invalid", "use letters, digits, '.', '_' or '-', ending in .pdf or .docx"
        )
    return given


def checked_cv(content_type: str, data: bytes) -> str:
    """The CV's type, when ``data`` is a PDF or DOCX file of at most ``MAX_CV_BYTES``."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in CV_TYPES:
        raise invalid_field(
            "content-type", "unsupported_type", f"must be one of {', '.join(CV_TYPES)}"
        )
    if len(data) > MAX_CV_BYTES:
        raise invalid_field("body", "too_large", f"larger than {MAX_CV_BYTES // 1024 // 1024} MB")
    if not data.startswith(CV_SIGNATURES[media_type]) or (
        media_type == _DOCX and not _is_word_document(data)
    ):
        raise invalid_field("body", "not_that_type", f"the bytes are not a {media_type} file")
    return media_type


def _is_word_document(data: bytes) -> bool:
    """A ZIP archive with the part every Word document has (any ZIP is not a DOCX)."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


@router.get(
    "/v1/applications/{application_id}/documents",
    response_model=DocumentList,
    responses=NOT_FOUND,
)
def list_application_documents(
    application_id: UUID, principal: ReaderDep, db: DatabaseDep
) -> DocumentList:
    """The application's stored documents (its CV, contracts, letters, profiles), oldest
    first."""
    with db.transaction() as session:
        application = get_owned(
            session, Application, application_id, principal.organisation_id, what="application"
        )
        documents = session.scalars(
            select(Document)
            .where(
                or_(
                    Document.application_id == application_id,
                    Document.id == application.cv_document_id,
                ),
                Document.organisation_id == principal.organisation_id,
            )
            .order_by(Document.created_at, Document.id)
        )
        return DocumentList(items=[_view(d) for d in documents])


@router.get(
    "/v1/documents/{document_id}",
    response_class=HttpResponse,
    responses={
        **_STORED,
        **NOT_FOUND,
        410: problem("The document is known but its file is no longer stored"),
    },
)
def download_document(
    document_id: UUID, principal: ReaderDep, db: DatabaseDep, storage: StorageDep
) -> HttpResponse:
    """The file itself, as stored (its SHA-256 is the ETag)."""
    with db.transaction() as session:
        document = session.scalar(
            select(Document).where(
                Document.id == document_id, Document.organisation_id == principal.organisation_id
            )
        )
        if document is None:
            raise not_found("document", document_id)
    try:
        data = storage.get(document.storage_key)
    except DocumentMissing:
        raise ProblemError(
            410, "Gone", f"the file of document {document_id} is no longer stored"
        ) from None
    return HttpResponse(
        data,
        media_type=document.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{document.filename}"',
            "ETag": f'"{document.sha256}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post(
    "/v1/documents/print",
    response_class=HttpResponse,
    responses={
        **_PDF,
        422: problem(
            "A document that is not the organisation's, is not a PDF or has no file (the error"
            " names its index), or more bytes in all than one print takes"
        ),
    },
)
def print_documents(
    batch: PrintBatch, principal: ReaderDep, db: DatabaseDep, storage: StorageDep
) -> HttpResponse:
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
    total = sum(found[d].size_bytes for d in batch.document_ids)
    if total > MAX_PRINT_BYTES:
        raise invalid_field(
            "document_ids", "too_large", f"{total} bytes in all, more than {MAX_PRINT_BYTES}"
        )
    merged = PdfWriter()
    for index, document_id in enumerate(batch.document_ids):
        try:
            data = storage.get(found[document_id].storage_key)
        except DocumentMissing:
            raise invalid_field(
                f"document_ids.{index}", "file_missing", f"document {document_id} has no file"
            ) from None
        merged.append(BytesIO(data))
    out = BytesIO()
    merged.write(out)
    return HttpResponse(
        out.getvalue(),
        media_type="application/pdf",
        headers={
            "Content-Disposition": 'attachment; filename="documents.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
