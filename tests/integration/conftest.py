"""Integration fixtures: real PostgreSQL, RabbitMQ and werving processes."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pika
import pytest

from shared.messaging.routes import WORKER_QUEUES_WITH_SIBLINGS
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
    _purge(rabbitmq_url, [*WORKER_QUEUES_WITH_SIBLINGS, settings.ingress_queue])
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
def mail_pipeline(
    env: dict[str, str], sink: tuple[Sink, int], tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """The scheduler and a mail worker that sends to ``sink`` (its Dramatiq main process;
    it logs to ``tmp_path / "mail_worker.log"``)."""
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
        running(mail_worker, env=mail_env, log_path=tmp_path / "mail_worker.log") as worker,
    ):
        yield worker


# -- S3 (moto's server) ----------------------------------------------------------------

S3_REGION = "eu-west-1"


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a free loopback port: a real S3 API, locally."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with running(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env={},
        log_path=tmp_path_factory.mktemp("moto") / "moto.log",
        ready=http_ready(f"{endpoint}/moto-api/"),
    ):
        yield endpoint


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=S3_REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def bucket(s3_client: Any) -> str:
    """A new, empty bucket for each test."""
    name = f"werving-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": S3_REGION}
    )
    return name
