"""Every worker survives every message: a hostile corpus published straight onto the
``status``, ``mail`` and ``documents`` queues with the real worker processes running, and
good messages (as the relay publishes them) interleaved."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika
import pytest
from dramatiq.common import dq_name
from sqlalchemy import func, select

from shared.db.database import Database
from shared.db.models import CommandRecord, DeadLetter, Document, OutboundEmail, OutboxMessage
from shared.messaging.scheduler import enqueue_due_jobs
from tests.conftest import Tenant, make_tenant
from tests.documents import offered_application
from tests.factories import open_vacancy, register_body
from tests.hostile import Published, draw, publish_all, worker_fixed, worker_hostile
from tests.outbox import outgoing
from tests.processes import BIN, running, wait_until
from tests.smtp_sinks import Sink
from tests.workflow import accept, run

pytestmark = pytest.mark.integration

GENERATED = 1_000
CONTRACT = {
    "type": "send_employment_contract",
    "job_title": "Verpleegkundige IC",
    "salary": {"amount": "3512.50", "currency": "EUR", "period": "month"},
    "hours_per_week": "32.5",
    "start_date": "2027-03-01",
    "end_date": "2028-02-29",
    "probation_months": 1,
    "place_of_work": "Utrecht",
    "holiday_days": 25,
}


def _worker(queue: str) -> list[str]:
    module = {"status": "status_worker", "mail": "mail_worker", "documents": "document_worker"}
    return [
        str(BIN / "dramatiq"),
        f"services.{module[queue]}.actors",
        "--queues",
        queue,
        "--processes",
        "1",
        "--threads",
        "2",
    ]


def _queue_state(url: str, queue: str) -> tuple[int, int]:
    """Ready messages and consumers of ``queue`` (0, 0 while it does not exist)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        declared = connection.channel().queue_declare(queue, passive=True)
        return declared.method.message_count, declared.method.consumer_count
    except pika.exceptions.ChannelClosedByBroker:
        return 0, 0
    finally:
        if connection.is_open:
            connection.close()


def _task_messages(db: Database, queue: str) -> list[Published]:
    """The outbox's messages for ``queue``, as the relay would publish them; marked
    published, so that no relay sends them too."""
    with db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.destination == queue, OutboxMessage.published_at.is_(None)
            )
        ).all()
        for row in rows:
            row.published_at = row.created_at
        return [Published("good", o.body, str(o.id)) for o in outgoing(rows)]


def _letters(db: Database, ids: list[str]) -> dict[str, DeadLetter]:
    with db.transaction() as session:
        letters = session.scalars(select(DeadLetter).where(DeadLetter.message_id.in_(ids)))
        return {letter.message_id or "": letter for letter in letters}


def _count(db: Database, statement: Any) -> int:
    with db.transaction() as session:
        return int(session.scalar(statement) or 0)


def _survives(
    db: Database,
    amqp: str,
    queue: str,
    env: dict[str, str],
    log_path: Path,
    good: list[Published],
    good_done: Callable[[], bool],
) -> None:
    """Run the worker of ``queue``, publish the corpus and the good messages interleaved,
    and check that every message was settled as it should be."""
    actor = {"status": "register_application", "mail": "deliver_mail_job"}.get(
        queue, "render_document_job"
    )
    other = "deliver_mail_job" if queue != "mail" else "register_application"
    hostile = draw(worker_hostile(queue, actor, other), GENERATED) + worker_fixed(queue, actor)
    stride = len(hostile) // len(good)
    corpus = [m for i, g in enumerate(good) for m in (g, *hostile[i * stride : (i + 1) * stride])]
    corpus += hostile[len(good) * stride :]
    ids = [m.message_id for m in hostile]

    with running(
        _worker(queue),
        env=env,
        log_path=log_path,
        ready=lambda: _queue_state(amqp, queue)[1] == _queue_state(amqp, dq_name(queue))[1] == 1,
    ) as worker:
        started = time.monotonic()
        publish_all(amqp, "guest", queue, corpus)
        wait_until(
            lambda: len(_letters(db, ids)) == len(ids),
            timeout_s=240,
            what=f"a dead letter for every hostile message on {queue}",
        )
        wait_until(good_done, timeout_s=120, what=f"every good message on {queue}")
        print(  # noqa: T201 - a figure, not an assertion
            f"\n{queue}: {len(hostile)} hostile + {len(good)} good messages settled"
            f" in {time.monotonic() - started:.1f} s"
        )
        letters = _letters(db, ids)
        assert [m.label for m in hostile if not letters[m.message_id].reason.strip()] == []
        assert {letter.source for letter in letters.values()} == {"worker"}
        assert worker.poll() is None
        wait_until(
            lambda: (
                _queue_state(amqp, queue)[0] == 0 and _queue_state(amqp, dq_name(queue))[0] == 0
            ),
            timeout_s=10,
            what=f"{queue} to be empty",
        )


def test_the_status_worker_survives_a_hostile_corpus(
    pg: Database, amqp: str, env: dict[str, str], tmp_path: Path
) -> None:
    tenant = make_tenant(pg)
    vacancy = open_vacancy(pg, tenant.organisation_id)
    commands = [accept(pg, tenant.organisation_id, register_body(vacancy)) for _ in range(20)]
    good = _task_messages(pg, "status")
    succeeded = select(func.count()).where(
        CommandRecord.id.in_([c["command_id"] for c in commands]),
        CommandRecord.status == "succeeded",
    )
    _survives(
        pg,
        amqp,
        "status",
        env,
        tmp_path / "worker.log",
        good,
        lambda: _count(pg, succeeded) == len(commands),
    )


def test_the_mail_worker_survives_a_hostile_corpus(
    pg: Database, amqp: str, env: dict[str, str], tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    tenant = make_tenant(pg)
    vacancy = open_vacancy(pg, tenant.organisation_id)
    for _ in range(10):
        run(pg, tenant.organisation_id, register_body(vacancy, send_receipt=True))
    enqueue_due_jobs(pg)
    good = _task_messages(pg, "mail")
    assert len(good) == 10
    sent = select(func.count()).select_from(OutboundEmail).where(OutboundEmail.state == "sent")
    _survives(
        pg,
        amqp,
        "mail",
        {**env, "WERVING_SMTP_PORT": str(sink[1])},
        tmp_path / "worker.log",
        good,
        lambda: _count(pg, sent) == len(good),
    )
    assert len(sink[0].received) == len(good)


def test_the_document_worker_survives_a_hostile_corpus(
    pg: Database, amqp: str, env: dict[str, str], tmp_path: Path
) -> None:
    tenant: Tenant = make_tenant(pg)
    for _ in range(3):
        application_id = offered_application(pg, tenant)
        run(pg, tenant.organisation_id, {**CONTRACT, "application_id": str(application_id)})
    enqueue_due_jobs(pg)
    good = _task_messages(pg, "documents")
    assert len(good) == 3
    stored = select(func.count()).select_from(Document).where(Document.kind == "contract")
    documents_env = {**env, "WERVING_DOCUMENTS_DIR": str(tmp_path / "documents")}
    _survives(
        pg,
        amqp,
        "documents",
        documents_env,
        tmp_path / "worker.log",
        good,
        lambda: _count(pg, stored) == len(good),
    )
