"""Process set-up for status_worker: settings, logging, database and broker.

Imported by ``actors`` before any ``@dramatiq.actor``, so that the actors bind to
this broker. Building them connects to nothing; the first message does.
"""

from __future__ import annotations

import dramatiq

from services.status_worker.unit_of_work import fail_command
from shared.db.database import worker_database
from shared.messaging.broker import boot_worker
from shared.messaging.dead_letters import record_dead_letter
from shared.messaging.middleware import describe_failure
from shared.messaging.routes import STATUS_QUEUE
from shared.settings import get_settings

settings = get_settings()
db = worker_database(settings, name="status_worker", pre_ping=False)


def _record_failure(message: dramatiq.MessageProxy, exception: BaseException) -> None:
    """Copy a message Dramatiq gave up on into ``dead_letters`` and fail its command."""
    details = describe_failure(message, exception)
    with db.transaction() as session:
        record_dead_letter(session, source="worker", **details)
        if details["command_id"] is not None and details["organisation_id"] is not None:
            fail_command(
                session, details["command_id"], details["organisation_id"], details["reason"]
            )


broker = boot_worker(settings, STATUS_QUEUE, db=db, on_failure=_record_failure)
