"""Credentials on the real path, with RabbitMQ's firehose on: neither the set-password
token nor the password is in any message the broker saw, any log, or the database."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pika
import pytest

from shared.db.database import Database
from tests.conftest import make_tenant
from tests.processes import run_over_http, wait_until
from tests.read_rows import every_value
from tests.seeds import seed_reference
from tests.smtp_sinks import Sink

pytestmark = pytest.mark.integration

PASSWORD = "Canary-password-7f3e correct horse"
TRACE_QUEUE = "werving.test.firehose"


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def firehose(amqp: str) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    """Every message published to and delivered from the test's vhost, copied to a queue.

    RabbitMQ's tracer (``rabbitmqctl trace_on``) republishes each one, body and
    headers, on the vhost's ``amq.rabbitmq.trace`` exchange.
    """
    if shutil.which("rabbitmqctl") is None:
        message = "rabbitmqctl is needed to switch RabbitMQ's firehose on"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must provide it", pytrace=False)
        pytest.skip(message)
    vhost = unquote(urlsplit(amqp).path.lstrip("/")) or "/"
    connection = pika.BlockingConnection(pika.URLParameters(amqp))
    channel = connection.channel()
    channel.queue_declare(TRACE_QUEUE, exclusive=True)
    channel.queue_bind(TRACE_QUEUE, "amq.rabbitmq.trace", routing_key="#")
    _rabbitmqctl("trace_on", "-p", vhost)
    try:
        yield channel
    finally:
        _rabbitmqctl("trace_off", "-p", vhost)
        connection.close()


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.mark.usefixtures("relay_process", "worker_process", "mail_pipeline")
def test_no_token_or_password_in_rabbitmq_messages_logs_or_the_database(
    pg: Database,
    api_url: str,
    sink: tuple[Sink, int],
    firehose: pika.adapters.blocking_connection.BlockingChannel,
    tmp_path: Path,
) -> None:
    received, _ = sink
    tenant = make_tenant(pg, name="Acme Zorg")
    ref = seed_reference(pg, tenant.organisation_id)
    headers = tenant.headers

    def command(body: dict[str, object]) -> dict[str, object]:
        return run_over_http(api_url, headers, body)

    # Given an applicant who gets portal credentials by email, through every process
    registered = command(
        {
            "type": "register_application",
            "vacancy_id": str(ref.vacancy_id),
            "applicant": {"name": "Ann de Vries", "email": "ann@example.org", "locale": "en"},
        }
    )
    command({"type": "save_and_send_credentials", "application_id": registered["application_id"]})
    wait_until(lambda: len(received.received) == 1, timeout_s=60, what="the credentials email")
    email = message_from_bytes(received.received[0], policy=policy.default)
    assert isinstance(email, EmailMessage)
    found = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", _text(email))
    assert found, _text(email)
    token = found.group(1)

    # When the candidate sets a password with the link and logs in
    username = str(email["To"].addresses[0].addr_spec)
    set_password = httpx.post(
        f"{api_url}/v1/candidate-auth/set-password",
        json={"token": token, "password": PASSWORD},
        headers=headers,
    )
    assert set_password.status_code == 204, set_password.text
    login = httpx.post(
        f"{api_url}/v1/candidate-auth/login",
        json={"username": username, "password": PASSWORD},
        headers=headers,
    )
    assert login.status_code == 200, login.text

    # Then the broker carried the work (tasks and events), but never the secrets
    traced: list[bytes] = []
    while (got := firehose.basic_get(TRACE_QUEUE, auto_ack=True))[0] is not None:
        _method, properties, body = got
        traced.append(body + repr(properties.headers).encode())
    routed = b"".join(traced)
    for expected in (b"save_and_send_credentials", b"command.completed", b"deliver_mail_job"):
        assert expected in routed, expected
    for secret in (token, PASSWORD):
        assert secret.encode() not in routed
    # nor did any process's log
    logs = {path.name: path.read_text(errors="replace") for path in tmp_path.glob("*.log")}
    assert {"api.log", "mail_worker.log", "status_worker.log"} <= set(logs)
    assert [name for name, text in logs.items() if token in text or PASSWORD in text] == []
    # nor does the database, in any column of any table
    values = [str(value) for _table, _column, value in every_value(pg)]
    assert any("ann@example.org" in v for v in values)  # the canary looked at something
    assert [v for v in values if token in v or PASSWORD in v] == []
