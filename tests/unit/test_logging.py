"""Logs: secrets never reach a line, and each message's context is bound."""

from __future__ import annotations

import json
import logging

import dramatiq
import pytest
import structlog
from dramatiq.brokers.stub import StubBroker

from shared.logging import configure_logging, redact
from shared.messaging.middleware import LogContext


def test_secret_keys_are_redacted_at_any_depth() -> None:
    event = redact(
        {"api_key": "wv_x_y", "nested": {"password": "hunter2", "name": "ok"}, "token": "t"}
    )
    assert event == {
        "api_key": "[redacted]",
        "nested": {"password": "[redacted]", "name": "ok"},
        "token": "[redacted]",
    }


def test_credentials_in_urls_are_redacted() -> None:
    assert redact("amqp://guest:s3cret@rabbit:5672/%2F") == "amqp://[redacted]@rabbit:5672/%2F"


def test_an_access_log_line_never_carries_a_link_token_or_signature(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the API's access log, which goes through the standard library
    configure_logging(log_format="json")
    token = "Rv7_secret-token-0123456789abcdef0123456789"
    # When uvicorn logs requests for a reviewer's page, a CV and a signed answer
    access = logging.getLogger("uvicorn.access")
    for path in (
        f"/review/{token}",
        f"/review/{token}/cv/42",
        "/interviews/1/respond?sig=S1G",
        f"/talent-pool/{token}",
    ):
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", path, "1.1", 200)
    # Then the lines keep the route but not the secret
    lines = capsys.readouterr().err.strip().splitlines()[-4:]
    assert [json.loads(line)["event"].split('"')[1] for line in lines] == [
        "GET /review/[redacted] HTTP/1.1",
        "GET /review/[redacted]/cv/42 HTTP/1.1",
        "GET /interviews/1/respond HTTP/1.1",
        "GET /talent-pool/[redacted] HTTP/1.1",
    ]
    assert token not in "".join(lines) and "S1G" not in "".join(lines)


def test_an_access_log_line_names_the_path_without_its_query_string(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the API's access log
    configure_logging(log_format="json")
    # When uvicorn logs an upload named in the query, and a look-up by email address
    access = logging.getLogger("uvicorn.access")
    for path in ("/v1/documents?filename=cv-canary.pdf", "/v1/applicants?email=ann@example.org"):
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "POST", path, "1.1", 201)
    # Then the lines keep the path and lose the query, with its personal data
    lines = capsys.readouterr().err.strip().splitlines()[-2:]
    assert [json.loads(line)["event"].split('"')[1] for line in lines] == [
        "POST /v1/documents HTTP/1.1",
        "POST /v1/applicants HTTP/1.1",
    ]
    assert "canary" not in "".join(lines) and "ann@" not in "".join(lines)


def test_weasyprint_says_nothing_below_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the logging of any process
    configure_logging(log_format="json")
    # When WeasyPrint tells its progress, as it does for every PDF
    logging.getLogger("weasyprint.progress").info("Step 2 - Fetching and parsing CSS")
    logging.getLogger("weasyprint").warning("Ignored `gap: 1em`")
    # Then only its warning reaches the log
    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()]
    assert events == ["Ignored `gap: 1em`"]


def test_json_lines_carry_no_secret(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(log_format="json")
    structlog.get_logger("test").info(
        "relay.connecting", broker_url="amqp://user:pw@host/", authorization="Bearer wv_a_b"
    )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "relay.connecting"
    assert "pw" not in json.dumps(line) and "wv_a_b" not in json.dumps(line)


def test_the_middleware_binds_message_command_and_organisation_ids() -> None:
    broker = StubBroker(middleware=[LogContext()])
    seen: dict[str, object] = {}

    @dramatiq.actor(broker=broker, queue_name="status")
    def probe(message: dict[str, str]) -> None:
        seen.update(structlog.contextvars.get_contextvars())

    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        sent = probe.send({"command_id": "c-1", "organisation_id": "o-1"})
        broker.join("status")
        worker.join()
    finally:
        worker.stop()
    assert seen["message_id"] == sent.message_id
    assert (seen["command_id"], seen["organisation_id"], seen["actor_name"]) == (
        "c-1",
        "o-1",
        "probe",
    )
