"""Erasing what no document names any more: CVs uploaded but never used, and files left
by a worker that died between storing a PDF and committing its row.

Run from the scheduler process every few minutes; safe to run twice, anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import structlog
from sqlalchemy import delete, select

from shared.db.database import Database
from shared.db.models import Applicant, Application, Document
from shared.db.types import utcnow
from shared.documents.storage import DocumentStorage

log = structlog.get_logger(__name__)

# A file younger than this may belong to a document whose row is about to commit.
ORPHAN_GRACE: Final = timedelta(hours=1)
# An uploaded CV that no registration named in this time is erased.
UNUSED_CV_RETENTION: Final = timedelta(hours=48)


@dataclass(frozen=True)
class Swept:
    unused_cvs: int
    orphan_files: int


def sweep_documents(
    db: Database, storage: DocumentStorage, *, now: datetime | None = None
) -> Swept:
    now = now or utcnow()
    with db.transaction() as session:
        named = select(Application.cv_document_id).where(Application.cv_document_id.is_not(None))
        kept = select(Applicant.cv_document_id).where(Applicant.cv_document_id.is_not(None))
        unused = session.execute(
            select(Document.id, Document.storage_key).where(
                Document.kind == "cv",
                Document.created_at < now - UNUSED_CV_RETENTION,
                Document.id.not_in(named),
                Document.id.not_in(kept),
            )
        ).all()
        if unused:
            session.execute(delete(Document).where(Document.id.in_([row.id for row in unused])))
    for row in unused:  # after the commit: a rollback must not lose a file with a row
        storage.delete(row.storage_key)

    orphans = 0
    with db.transaction() as session:
        rows = set(session.scalars(select(Document.storage_key)))
    for key, written in storage.stored():
        if written < now - ORPHAN_GRACE and key not in rows:
            storage.delete(key)
            orphans += 1
    if unused or orphans:
        log.info("documents.swept", unused_cvs=len(unused), orphan_files=orphans)
    return Swept(len(unused), orphans)
