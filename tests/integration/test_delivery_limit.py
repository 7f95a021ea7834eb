"""A message that kills its consumer is dead-lettered after the delivery limit, not
delivered for ever; the messages beside it are processed."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shared.db.database import Database
from shared.db.models import DeadLetter, InboxEntry
from shared.messaging.broker import build_broker, declare_worker_queues
from shared.messaging.limits import MAX_REDELIVERIES
from shared.settings import Settings
from tests.hostile import Published, dramatiq_message, publish_all
from tests.processes import BIN, running, wait_until

pytestmark = pytest.mark.integration

# tests.poison_worker's queue and the consumer name it notes done messages under (not
# imported: importing it boots a worker in this process).
QUEUE = "poison"
CONSUMER = "poison-test"

WORKER = [str(BIN / "dramatiq"), "tests.poison_worker", "--queues", QUEUE]
WORKER += ["--processes", "1", "--threads", "2"]


def _letter(db: Database, message_id: str) -> DeadLetter | None:
    with db.transaction() as session:
        letter = session.scalars(select(DeadLetter).where(DeadLetter.message_id == message_id))
        return letter.one_or_none()


def _done(db: Database) -> int:
    with db.transaction() as session:
        done = select(func.count()).where(InboxEntry.consumer == CONSUMER)
        return int(session.scalar(done) or 0)


def test_a_message_that_kills_its_worker_is_dead_lettered_after_the_delivery_limit(
    pg: Database, amqp: str, env: dict[str, str], tmp_path: Path
) -> None:
    # Given a queue holding a message that kills the worker running it, among 20 others
    broker = build_broker(Settings(broker_url=amqp))
    declare_worker_queues(broker, [QUEUE])
    broker.close()

    def message(payload: dict[str, object]) -> Published:
        message_id = str(uuid.uuid4())
        body = dramatiq_message(QUEUE, "maybe_die", [payload], message_id)
        return Published(
            "poison" if payload.get("die") else "innocent", json.dumps(body).encode(), message_id
        )

    innocents = [message({"key": i}) for i in range(20)]
    poison = message({"key": "poison", "die": True})
    publish_all(amqp, "guest", QUEUE, [*innocents[:5], poison, *innocents[5:]])

    # When a supervisor starts the worker again each time it dies
    deaths = 0
    deadline = time.monotonic() + 180
    while _letter(pg, poison.message_id) is None and time.monotonic() < deadline:
        with running(WORKER, env=env, log_path=tmp_path / f"worker-{deaths}.log") as worker:
            wait_until(
                lambda: worker.poll() is not None or _letter(pg, poison.message_id) is not None,
                timeout_s=60,
                what="the worker to die or the poison to be dead-lettered",
            )
            deaths += worker.poll() is not None
    print(f"\nthe worker died {deaths} times")  # noqa: T201 - a figure

    # Then the message is dead-lettered once its redelivered starts pass the limit
    letter = _letter(pg, poison.message_id)
    assert letter is not None
    assert letter.reason == (
        "DeliveryLimitReachedError: delivery limit: started"
        f" {MAX_REDELIVERIES + 1} times without being settled"
    )
    assert deaths == MAX_REDELIVERIES + 1
    # And the worker that dead-lettered it lives on and does the rest
    with running(WORKER, env=env, log_path=tmp_path / "worker-last.log") as worker:
        wait_until(lambda: _done(pg) == len(innocents), timeout_s=60, what="every innocent")
        assert worker.poll() is None
