"""The stored documents a mail job sends along: checked before they go out.

A job names its documents by id (``payload["document_ids"]``); each must belong to the
job's organisation, be of a type mail may carry, and all together stay under the size
that mail servers accept.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import Document, ScheduledJob
from shared.documents.storage import DocumentMissing, DocumentStorage
from shared.errors import PermanentError

ALLOWED_TYPES: Final = frozenset(
    {
        "application/pdf",
        "image/png",
        "image/jpeg",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    }
)
# Most servers refuse messages over 25 MB; base64 makes attachments a third larger.
MAX_TOTAL_BYTES: Final = 15 * 1024 * 1024


def attachments(
    session: Session, storage: DocumentStorage, job: ScheduledJob
) -> list[tuple[Document, bytes]]:
    """The job's documents with their bytes, in the order the job names them."""
    ids = [UUID(value) for value in job.payload.get("document_ids", [])]
    if not ids:
        return []
    found = {
        document.id: document
        for document in session.scalars(
            select(Document).where(
                Document.id.in_(ids), Document.organisation_id == job.organisation_id
            )
        )
    }
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise PermanentError(f"attachments: document(s) {', '.join(missing)} not found")
    documents = [found[i] for i in ids]
    refused = [d.filename for d in documents if d.content_type not in ALLOWED_TYPES]
    if refused:
        raise PermanentError(f"attachments: type not allowed for {', '.join(refused)}")
    total = sum(d.size_bytes for d in documents)
    if total > MAX_TOTAL_BYTES:
        raise PermanentError(
            f"attachments: {total} bytes in all, more than the {MAX_TOTAL_BYTES} allowed"
        )
    try:
        return [(document, storage.get(document.storage_key)) for document in documents]
    except DocumentMissing as exc:
        raise PermanentError(f"attachments: {exc}") from None
