"""Carrying out a document job: compose, render in the sandbox, store, record, and hand
the PDF to mail_worker when its purpose is sent by email.

Safe to run twice: the document row is unique per job. A redelivery that finds it stops
there, so one job gives one stored document and at most one email job. Two deliveries
racing may both render, but only one row commits; the other removes its file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.document_worker.composition import ComposedDocument
from services.document_worker.pdf import RenderedPdf
from shared.commands import JobMessage
from shared.db.database import Database
from shared.db.models import Document, ScheduledJob
from shared.db.types import utcnow
from shared.documents.jobs import ERASE_FILES
from shared.documents.storage import DocumentStorage
from shared.errors import PermanentError, TransientError
from shared.events import DocumentCreated
from shared.ids import new_id
from shared.messaging.outbox import publish_event

log = structlog.get_logger(__name__)

Composer = Callable[[Session, ScheduledJob], ComposedDocument]
PdfRenderer = Callable[[ComposedDocument], RenderedPdf]


def render_document_job(
    db: Database,
    storage: DocumentStorage,
    compose: Composer,
    render: PdfRenderer,
    message: dict[str, Any],
) -> None:
    started = time.perf_counter()
    try:
        ids = JobMessage.model_validate(message)
    except ValueError as exc:
        raise PermanentError(f"malformed message: {exc}") from None
    with db.transaction() as session:
        job = _job(session, ids)
        if job is None:
            return
        if job.purpose == ERASE_FILES:
            _erase(storage, job)
            return
        composed = compose(session, job)
    pdf = render(composed)
    if composed.purpose.strict_fetches and pdf.refused_urls:
        raise PermanentError(
            f"{composed.purpose.name} not stored: its template asked for resources that are"
            f" not allowed ({', '.join(pdf.refused_urls[:3])})"
        )
    document_id = new_id()
    key = f"{ids.organisation_id}/{document_id}.pdf"
    storage.put(key, pdf.data, content_type="application/pdf")
    try:
        with db.transaction() as session:
            job = session.get(ScheduledJob, ids.job_id)
            if job is None:  # purged while it rendered: keep nothing of it
                storage.delete(key)
                log.info("document.job_gone", job_id=str(ids.job_id))
                return
            _record(session, job, composed, pdf, document_id, key, started)
    except IntegrityError:
        storage.delete(key)
        with db.transaction() as session:
            stored = session.scalar(select(Document.id).where(Document.job_id == ids.job_id))
        if stored is None:  # another job took this version number: try again
            raise TransientError(f"document version taken meanwhile for job {ids.job_id}") from None
        log.info("document.already_stored", job_id=str(ids.job_id), document_id=str(stored))


def _job(session: Session, ids: JobMessage) -> ScheduledJob | None:
    """The job to carry out; None when there is nothing (more) to do."""
    job = session.scalar(
        select(ScheduledJob).where(
            ScheduledJob.id == ids.job_id, ScheduledJob.organisation_id == ids.organisation_id
        )
    )
    if job is None or job.kind != "document":
        raise PermanentError(f"document job {ids.job_id} not found for its organisation")
    if job.status == "cancelled":
        log.info("document.cancelled_before_rendering", job_id=str(job.id))
        return None
    stored = session.scalar(select(Document.id).where(Document.job_id == job.id))
    if stored is not None:
        log.info("document.already_stored", job_id=str(job.id), document_id=str(stored))
        return None
    return job


def _erase(storage: DocumentStorage, job: ScheduledJob) -> None:
    """Remove a purged application's files; removing one twice is harmless."""
    keys: list[str] = job.payload.get("storage_keys", [])
    prefix = f"{job.organisation_id}/"
    for key in keys:
        if not key.startswith(prefix):  # only ever the job's own organisation's files
            raise PermanentError(f"erase job {job.id} names a file of another organisation")
        storage.delete(key)
    log.info("document.files_erased", job_id=str(job.id), count=len(keys))


def _record(
    session: Session,
    job: ScheduledJob,
    composed: ComposedDocument,
    pdf: RenderedPdf,
    document_id: UUID,
    key: str,
    started: float,
) -> None:
    purpose = composed.purpose
    now = utcnow()
    version = 1 + (
        session.scalar(
            select(func.max(Document.version)).where(
                Document.application_id == job.application_id, Document.purpose == purpose.name
            )
        )
        or 0
    )
    document = Document(
        id=document_id,
        organisation_id=job.organisation_id,
        application_id=job.application_id,
        job_id=job.id,
        command_id=job.command_id,
        kind=purpose.kind,
        purpose=purpose.name,
        version=version,
        filename=f"{composed.filename_stem}-v{version}.pdf",
        content_type="application/pdf",
        size_bytes=len(pdf.data),
        sha256=pdf.sha256,
        storage_key=key,
        locale=composed.locale,
        pages=pdf.pages,
        template_version=composed.template_version,
        created_at=now,
    )
    session.add(document)
    if purpose.mail is not None:
        session.add(
            ScheduledJob(
                id=new_id(),
                organisation_id=job.organisation_id,
                application_id=job.application_id,
                command_id=job.command_id,
                kind="mail",
                purpose=purpose.mail,
                payload=job.payload | {"document_ids": [str(document_id)]},
                due_at=now,
                status="pending",
                created_at=now,
            )
        )
    session.flush()  # the unique job_id and version are checked here, not at commit
    publish_event(
        session,
        DocumentCreated(
            occurred_at=now,
            organisation_id=job.organisation_id,
            document_id=document_id,
            application_id=job.application_id,
            command_id=job.command_id,
            kind=purpose.kind,
            purpose=purpose.name,
            version=version,
            sha256=pdf.sha256,
            size_bytes=len(pdf.data),
        ),
    )
    log.info(
        "document.stored",
        document_id=str(document_id),
        purpose=purpose.name,
        version=version,
        pages=pdf.pages,
        bytes=len(pdf.data),
        ms=round((time.perf_counter() - started) * 1000, 1),  # the job, from its message
    )
