"""Integration fixtures: real PostgreSQL, RabbitMQ and werving processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from shared.messaging.routes import WORKER_QUEUES
from shared.settings import Settings
from tests.processes import (
    BIN,
    free_port,
    http_ready,
    running,
    service_env,
    status_worker,
    werving,
)
from tests.smtp_sinks import Sink, smtp_sink

pytestmark = pytest.mark.integration


def _purge(url: str, queues: list[str]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        for queue in queues:
            channel = connection.channel()
            try:
                channel.queue_purge(queue)
                channel.close()
            except pika.exceptions.ChannelClosedByBroker:
                pass  # not declared yet: nothing to purge
    finally:
        connection.close()


@pytest.fixture
def amqp(rabbitmq_url: str) -> str:
    """The broker, with werving's queues emptied before the test."""
    settings = Settings()
    queues = [q + suffix for q in WORKER_QUEUES for suffix in ("", ".DQ", ".XQ")]
    _purge(rabbitmq_url, [*queues, settings.ingress_queue])
    return rabbitmq_url


@pytest.fixture
def env(postgres_url: str, amqp: str) -> dict[str, str]:
    return service_env(postgres_url, amqp)


@pytest.fixture
def relay_process(env: dict[str, str], tmp_path: Path) -> Iterator[None]:
    with running(werving("relay"), env=env, log_path=tmp_path / "relay.log"):
        yield


@pytest.fixture
def worker_process(env: dict[str, str], tmp_path: Path) -> Iterator[None]:
    with running(status_worker(), env=env, log_path=tmp_path / "status_worker.log"):
        yield


@pytest.fixture
def api_url(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(
        werving("api", "--port", str(port)),
        env=env,
        log_path=tmp_path / "api.log",
        ready=http_ready(f"{base}/healthz"),
    ):
        yield base


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    """An SMTP server on loopback that keeps what it receives."""
    with smtp_sink() as (sink, port):
        yield sink, port


@pytest.fixture
def mail_pipeline(env: dict[str, str], sink: tuple[Sink, int], tmp_path: Path) -> Iterator[None]:
    """The scheduler and a mail worker that sends to ``sink``."""
    mail_env = {**env, "WERVING_SMTP_PORT": str(sink[1])}
    mail_worker = [
        str(BIN / "dramatiq"),
        "services.mail_worker.actors",
        "--queues",
        "mail",
        "--processes",
        "1",
        "--threads",
        "2",
    ]
    with (
        running(werving("scheduler"), env=env, log_path=tmp_path / "scheduler.log"),
        running(mail_worker, env=mail_env, log_path=tmp_path / "mail_worker.log"),
    ):
        yield
