"""Process set-up for mail_worker: settings, logging, database, SMTP and broker.

Imported by ``actors`` before any ``@dramatiq.actor``. Nothing connects until the
first message.
"""

from __future__ import annotations

from datetime import timedelta

import dramatiq

from services.mail_worker.mailer import SmtpMailer
from shared.db.database import worker_database
from shared.documents.storage import storage_from_settings
from shared.messaging.broker import boot_worker
from shared.messaging.dead_letters import record_dead_letter
from shared.messaging.middleware import describe_failure
from shared.messaging.routes import MAIL_QUEUE
from shared.settings import get_settings

settings = get_settings()
# No pre-ping round trip per checkout: a lost connection fails its transaction, and
# recording an outcome tries once more (delivery._record).
db = worker_database(settings, name="mail_worker", pre_ping=False)
mailer = SmtpMailer(settings)
storage = storage_from_settings(settings)
lease = timedelta(seconds=settings.mail_lease_s)


def _record_failure(message: dramatiq.MessageProxy, exception: BaseException) -> None:
    """Copy a mail job Dramatiq gave up on into ``dead_letters``, with its reason."""
    details = describe_failure(message, exception)
    with db.transaction() as session:
        record_dead_letter(session, source="worker", **details)


broker = boot_worker(settings, MAIL_QUEUE, db=db, on_failure=_record_failure)
