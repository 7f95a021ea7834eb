"""Carrying out a test's due document jobs in process, and reading the PDFs they stored."""

from __future__ import annotations

import struct
import uuid
import zlib
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from pypdf import PdfReader
from sqlalchemy import select

from services.document_worker.composition import ComposedDocument, compose
from services.document_worker.jobs import render_document_job
from services.document_worker.pdf import RenderedPdf, Renderer
from shared.db.database import Database
from shared.db.models import Applicant, Application, Document, OutboxMessage
from shared.documents.storage import DocumentStorage
from shared.ids import new_id
from shared.messaging.scheduler import enqueue_due_jobs
from shared.statuses import ApplicationStatus
from tests.conftest import Tenant
from tests.seeds import seed_application, seed_reference


def document_tasks(db: Database) -> list[dict[str, Any]]:
    """The documents queue's messages the relay would publish now (ids only); marked
    published, as the relay would, so that the next call finds only new ones."""
    with db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.destination == "documents", OutboxMessage.published_at.is_(None)
            )
        ).all()
        for row in rows:
            row.published_at = datetime.now(UTC)
        return [row.payload for row in rows]


def renderer_for(renderer: Renderer) -> Any:
    def render(document: ComposedDocument) -> RenderedPdf:
        return renderer.render(
            document.html,
            assets=document.assets,
            title=document.title,
            lang=document.locale,
            stylesheet=document.stylesheet,
        )

    return render


def render_due_documents(
    db: Database, storage: DocumentStorage, renderer: Renderer, *, times: int = 1
) -> list[Document]:
    """Enqueue what is due, carry out every document task ``times`` times; the documents."""
    enqueue_due_jobs(db)
    tasks = document_tasks(db)
    for _ in range(times):
        for task in tasks:
            render_document_job(db, storage, compose, renderer_for(renderer), task)
    with db.transaction() as session:
        return list(session.scalars(select(Document).order_by(Document.created_at)))


def pdf_text(data: bytes) -> str:
    """The text of every page, whitespace folded (PDF text extraction breaks lines)."""
    reader = PdfReader(BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def png(width: int = 8, height: int = 4, pixel: bytes = b"\x1d\x4e\xd8") -> bytes:
    """An RGB PNG of one colour, built by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + pixel * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def image_count(data: bytes) -> int:
    """How many images the PDF's pages draw."""
    return sum(len(page.images) for page in PdfReader(BytesIO(data)).pages)


def stored_cv(db: Database, organisation_id: uuid.UUID) -> uuid.UUID:
    """A CV document row, as ``POST /v1/documents`` leaves it (no file: nothing reads it)."""
    with db.transaction() as session:
        document = Document(
            id=new_id(),
            organisation_id=organisation_id,
            kind="cv",
            purpose="cv",
            filename="cv.pdf",
            content_type="application/pdf",
            size_bytes=0,
            sha256="0" * 64,
            storage_key=f"{organisation_id}/cv.pdf",
        )
        session.add(document)
        return document.id


def offered_application(db: Database, tenant: Tenant, *, locale: str | None = None) -> uuid.UUID:
    """An application in ``offered`` by Ann de Vries, writing in ``locale`` when given."""
    ref = seed_reference(db, tenant.organisation_id)
    application_id = seed_application(
        db, tenant.organisation_id, ref.vacancy_id, ApplicationStatus.OFFERED
    )
    if locale is not None:
        with db.transaction() as session:
            application = session.get(Application, application_id)
            assert application is not None
            applicant = session.get(Applicant, application.applicant_id)
            assert applicant is not None
            applicant.locale = locale
    return application_id
