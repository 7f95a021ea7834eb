"""Process set-up for document_worker: settings, logging, database, document store,
PDF limits and the broker its actors bind to.

Imported by ``actors`` before any ``@dramatiq.actor``. Nothing connects and no renderer
process starts until the first message.
"""

from __future__ import annotations

import dramatiq

from services.document_worker.composition import ComposedDocument
from services.document_worker.pdf import RenderedPdf, RenderLimits, render_pdf
from shared.db.database import worker_database
from shared.documents.storage import storage_from_settings
from shared.messaging.broker import boot_worker
from shared.messaging.dead_letters import record_dead_letter
from shared.messaging.middleware import describe_failure
from shared.messaging.routes import DOCUMENTS_QUEUE
from shared.settings import get_settings

settings = get_settings()
db = worker_database(settings, name="document_worker")
storage = storage_from_settings(settings)
limits = RenderLimits.from_settings(settings)


def render(document: ComposedDocument) -> RenderedPdf:
    """Render in this thread's sandboxed child process."""
    return render_pdf(
        document.html,
        assets=document.assets,
        limits=limits,
        title=document.title,
        lang=document.locale,
        stylesheet=document.stylesheet,
    )


def _record_failure(message: dramatiq.MessageProxy, exception: BaseException) -> None:
    """Copy a document job Dramatiq gave up on into ``dead_letters``, with its reason."""
    details = describe_failure(message, exception)
    with db.transaction() as session:
        record_dead_letter(session, source="worker", **details)


broker = boot_worker(settings, DOCUMENTS_QUEUE, db=db, on_failure=_record_failure)
