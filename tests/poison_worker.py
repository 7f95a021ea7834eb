"""A worker whose actor kills its own process for a marked message: a stand-in for a crash
that no exception handler sees (out of memory, a C library's segfault), for tests of the
delivery limit. Run with ``dramatiq tests.poison_worker --queues poison``."""

from __future__ import annotations

import os
import time
from typing import Any, Final

import dramatiq

from shared.db.database import worker_database
from shared.db.models import InboxEntry
from shared.messaging.broker import ACTOR_OPTIONS, boot_worker
from shared.messaging.dead_letters import record_dead_letter
from shared.messaging.middleware import describe_failure
from shared.settings import get_settings

QUEUE: Final = "poison"
CONSUMER: Final = "poison-test"

settings = get_settings()
db = worker_database(settings, name="poison_worker", pre_ping=False)


def _record_failure(message: dramatiq.MessageProxy, exception: BaseException) -> None:
    with db.transaction() as session:
        record_dead_letter(session, source="worker", **describe_failure(message, exception))


broker = boot_worker(settings, QUEUE, db=db, on_failure=_record_failure)


@dramatiq.actor(actor_name="maybe_die", queue_name=QUEUE, **ACTOR_OPTIONS)
def maybe_die(message: dict[str, Any]) -> None:
    """Die a moment after starting a message marked ``die``; note any other as done."""
    if message.get("die"):
        time.sleep(0.3)  # the messages beside it are done by then
        os._exit(1)
    with db.transaction() as session:
        session.merge(InboxEntry(consumer=CONSUMER, message_key=str(message["key"])))
