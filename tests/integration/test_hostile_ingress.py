"""The AMQP ingress survives every message: a hostile corpus through the real ``werving
ingress`` on RabbitMQ and PostgreSQL, good envelopes interleaved."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import pika
import pytest
from sqlalchemy import select

from shared.db.database import Database
from shared.db.models import CommandRecord, DeadLetter
from shared.settings import Settings
from tests.conftest import make_tenant
from tests.factories import open_vacancy, register_body
from tests.hostile import Published, draw, ingress_fixed, ingress_hostile, publish_all
from tests.processes import running, wait_until, werving

pytestmark = pytest.mark.integration

GENERATED = 1_000
GOOD = 40


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def upstream(amqp: str) -> Iterator[tuple[str, str]]:
    """An upstream system's RabbitMQ user, allowed only to publish on the ingress exchange in
    the test's vhost: its name and its URL (guest's, when this machine has no rabbitmqctl)."""
    parts = urlsplit(amqp)
    if not shutil.which("rabbitmqctl"):
        yield "guest", amqp
        return
    user, password = f"upstream-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    vhost = unquote(parts.path.lstrip("/")) or "/"
    _rabbitmqctl("add_user", user, password)
    try:
        # As werving org create prints them, less the organisation's own queues.
        writes = f"^{re.escape(Settings().ingress_exchange)}$"
        _rabbitmqctl("set_permissions", "-p", vhost, user, "^$", writes, "^$")
        netloc = f"{user}:{password}@{parts.hostname}:{parts.port or 5672}"
        yield user, urlunsplit(parts._replace(netloc=netloc))
    finally:
        _rabbitmqctl("delete_user", user)


@pytest.fixture
def ingress(env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    queue = Settings().ingress_queue
    with running(
        werving("ingress"),
        env=env,
        log_path=tmp_path / "ingress.log",
        ready=lambda: _queue_state(env["WERVING_BROKER_URL"], queue)[1] == 1,
    ) as process:
        yield process


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


def _letters(db: Database, ids: list[str]) -> dict[str, DeadLetter]:
    with db.transaction() as session:
        letters = session.scalars(select(DeadLetter).where(DeadLetter.message_id.in_(ids)))
        return {letter.message_id or "": letter for letter in letters}


def _statuses(db: Database, keys: list[str]) -> dict[str, str]:
    with db.transaction() as session:
        rows = session.execute(
            select(CommandRecord.idempotency_key, CommandRecord.status).where(
                CommandRecord.idempotency_key.in_(keys)
            )
        )
        return {row.idempotency_key: row.status for row in rows}


@pytest.mark.usefixtures("relay_process", "worker_process")
def test_a_hostile_corpus_leaves_the_ingress_running_and_every_message_settled(
    pg: Database, amqp: str, ingress: Any, upstream: tuple[str, str]
) -> None:
    # Given an organisation publishing as its own RabbitMQ user, and an open vacancy
    user, url = upstream
    tenant = make_tenant(pg, amqp_user=user)
    vacancy = open_vacancy(pg, tenant.organisation_id)

    def envelope() -> dict[str, Any]:
        return {"idempotency_key": f"good-{uuid.uuid4()}", "command": register_body(vacancy)}

    # And 1,000 hostile messages from Hypothesis, the known killers, and good envelopes
    hostile = draw(ingress_hostile(envelope), GENERATED) + ingress_fixed(envelope)
    good_keys = [f"good-{uuid.uuid4()}" for _ in range(GOOD)]
    traced = {"trace": {"depth": {"x": [1, "a", None, True]}}}  # any headers are fine
    good = [
        Published(
            "good",
            json.dumps({"idempotency_key": key, "command": register_body(vacancy)}).encode(),
            headers=traced if i % 2 else None,
        )
        for i, key in enumerate(good_keys)
    ]
    stride = len(hostile) // GOOD
    corpus = [m for i, g in enumerate(good) for m in (g, *hostile[i * stride : (i + 1) * stride])]
    corpus += hostile[GOOD * stride :]
    hostile_ids = [m.message_id for m in hostile]

    # When they are all published on the ingress queue
    started = time.monotonic()
    publish_all(url, user, "", corpus, exchange=Settings().ingress_exchange)
    published = time.monotonic() - started

    # Then every good envelope succeeds and every hostile message is a dead letter
    wait_until(
        lambda: len(_letters(pg, hostile_ids)) == len(hostile),
        timeout_s=240,
        what="a dead letter for every hostile message",
    )
    wait_until(
        lambda: (
            set(_statuses(pg, good_keys).values()) == {"succeeded"}
            and len(_statuses(pg, good_keys)) == GOOD
        ),
        timeout_s=120,
        what="every good envelope to succeed",
    )
    settled = time.monotonic() - started
    print(  # noqa: T201 - a figure, not an assertion
        f"\n{len(hostile)} hostile + {GOOD} good messages: published in {published:.1f} s,"
        f" all settled after {settled:.1f} s"
    )
    letters = _letters(pg, hostile_ids)
    unexplained = [m.label for m in hostile if not letters[m.message_id].reason.strip()]
    assert unexplained == []
    assert {letter.source for letter in letters.values()} == {"ingress"}
    # with the big body truncated, its size in the reason
    big = next(m for m in hostile if m.label == "10 MB of JSON")
    assert f"body of {len(big.body)} bytes" in letters[big.message_id].reason
    assert len(letters[big.message_id].body) <= 64 * 1024
    # And the ingress is still running, with nothing left on its queue
    assert ingress.poll() is None
    assert _queue_state(amqp, Settings().ingress_queue) == (0, 1)
