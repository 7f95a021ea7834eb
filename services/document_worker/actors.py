"""document_worker's actors (queue ``documents``), thin wrappers around the job handler.

Retries: 8 with backoff up to 5 minutes (storage or database hiccups, a render process
killed from outside), and for as long as the database is away; a PermanentError (unknown
job, a template that cannot render, a render stopped by its limits) is dead-lettered at
once. Idempotent on the job id: one stored document per job.
"""

from __future__ import annotations

from typing import Any

import dramatiq

from services.document_worker import boot
from services.document_worker.composition import compose
from services.document_worker.jobs import render_document_job as carry_out
from shared.messaging.broker import ACTOR_OPTIONS
from shared.messaging.routes import DOCUMENT_JOB_ROUTE


@dramatiq.actor(
    actor_name=DOCUMENT_JOB_ROUTE.actor, queue_name=DOCUMENT_JOB_ROUTE.queue, **ACTOR_OPTIONS
)
def render_document_job(message: dict[str, Any]) -> None:
    carry_out(boot.db, boot.storage, compose, boot.render, message)
