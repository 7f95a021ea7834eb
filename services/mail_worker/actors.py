"""mail_worker's actors (queue ``mail``), thin wrappers around the job handler.

Retries: 8 with backoff up to 5 minutes (4xx replies, timeouts), and for as long as the
database or the SMTP server is away (shared.messaging.retries); a job whose email another
delivery holds under its lease comes back when the lease runs out. A PermanentError (an
unknown job) is dead-lettered at once. A template that cannot render settles the job: its
email is recorded as failed and ``email.failed`` told. Idempotent on the job id: one email
row per job, sent at most once when it must be.
"""

from __future__ import annotations

from typing import Any

import dramatiq

from services.mail_worker import boot
from services.mail_worker.composition import composer
from services.mail_worker.jobs import deliver_mail_job as deliver
from shared.messaging.broker import ACTOR_OPTIONS
from shared.messaging.routes import MAIL_JOB_ROUTE

compose = composer(boot.storage)


@dramatiq.actor(actor_name=MAIL_JOB_ROUTE.actor, queue_name=MAIL_JOB_ROUTE.queue, **ACTOR_OPTIONS)
def deliver_mail_job(message: dict[str, Any]) -> None:
    deliver(boot.db, boot.mailer, compose, message, lease=boot.lease)
