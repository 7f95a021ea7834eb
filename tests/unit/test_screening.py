"""The strict check of a worker delivery (shared.messaging.screening), on the stub broker."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from shared.messaging.screening import MAX_MESSAGE_BYTES, Refusal, screen
from tests.hostile import NESTED_ARRAYS, dramatiq_message


@pytest.fixture
def broker() -> Iterator[StubBroker]:
    stub = StubBroker()

    @dramatiq.actor(broker=stub, queue_name="status", actor_name="register_application")
    def register(message: dict[str, Any]) -> None: ...

    @dramatiq.actor(broker=stub, queue_name="mail", actor_name="deliver_mail_job")
    def deliver(message: dict[str, Any]) -> None: ...

    yield stub
    stub.close()


IDS = {"command_id": str(uuid.uuid4()), "organisation_id": str(uuid.uuid4())}


def _body(**fields: Any) -> bytes:
    message = dramatiq_message("status", "register_application", [IDS], str(uuid.uuid4()))
    return json.dumps({**message, **fields}).encode()


def _reason(verdict: object) -> str:
    assert isinstance(verdict, Refusal), verdict
    return verdict.reason


def test_a_message_of_the_relay_passes_as_the_dramatiq_message_it_encodes(
    broker: StubBroker,
) -> None:
    sent: dramatiq.Message[Any] = dramatiq.Message(
        queue_name="status",
        actor_name="register_application",
        args=(IDS,),
        kwargs={},
        options={},
    )
    assert screen(sent.encode(), "status", broker) == sent


def test_a_retry_on_the_delay_queue_passes_with_dramatiq_s_own_options(
    broker: StubBroker,
) -> None:
    options = {"eta": int(time.time() * 1000) + 1000, "retries": 2, "traceback": "Traceback..."}
    body = _body(queue_name="status.DQ", options=options)
    message = screen(body, "status.DQ", broker)
    assert isinstance(message, dramatiq.Message)
    assert message.options == options


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (NESTED_ARRAYS, "not a Dramatiq message: body: Invalid JSON: recursion limit exceeded"),
        (b"[" * 100_000, "not a Dramatiq message: body: Invalid JSON: recursion limit exceeded"),
        (b'{"queue_name": "\xff"}', "not a Dramatiq message: body: Invalid JSON: invalid unicode"),
        (b"null", "not a Dramatiq message: body: Input should be an object"),
        (b"42", "not a Dramatiq message: body: Input should be an object"),
        (b"", "not a Dramatiq message: body: Invalid JSON: EOF while parsing a value"),
    ],
)
def test_a_body_that_is_no_dramatiq_message_is_refused_with_the_parser_s_reason(
    broker: StubBroker, body: bytes, reason: str
) -> None:
    assert _reason(screen(body, "status", broker)).startswith(reason)


def test_a_body_over_the_size_limit_is_refused_unparsed(broker: StubBroker) -> None:
    body = b" " * MAX_MESSAGE_BYTES + _body()
    assert _reason(screen(body, "status", broker)) == (
        f"body of {len(body)} bytes is over the limit of {MAX_MESSAGE_BYTES}"
    )


@pytest.mark.parametrize(
    ("fields", "queue", "reason"),
    [
        ({"queue_name": "mail"}, "status", "queue_name: 'mail' was delivered on queue 'status'"),
        ({}, "status.DQ", "queue_name: 'status' was delivered on queue 'status.DQ'"),
        ({"actor_name": "nobody"}, "status", "actor_name: no actor 'nobody' on queue 'status'"),
        (
            {"actor_name": "deliver_mail_job"},
            "status",
            "actor_name: no actor 'deliver_mail_job' on queue 'status'",
        ),
        ({"options": {"eta": 0}}, "status", "options.eta: only a delay queue's messages have one"),
        (
            {"queue_name": "status.DQ", "options": {}},
            "status.DQ",
            "options.eta: required on a delay queue",
        ),
        (
            {"queue_name": "status.DQ", "options": {"eta": int(time.time() * 1000) + 86_400_000}},
            "status.DQ",
            "options.eta: more than 300000 ms ahead",
        ),
        ({"options": {"retries": None}}, "status", "options.retries: null"),
        ({"args": []}, "status", "args: do not fit actor 'register_application'"),
        ({"args": [IDS, IDS]}, "status", "args: do not fit actor 'register_application'"),
        ({"kwargs": {"x": 1}}, "status", "args: do not fit actor 'register_application'"),
    ],
)
def test_a_message_that_does_not_fit_its_queue_or_actor_is_refused_naming_the_field(
    broker: StubBroker, fields: dict[str, Any], queue: str, reason: str
) -> None:
    assert _reason(screen(_body(**fields), queue, broker)).startswith(reason)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"throws": "ValueError"}, "options.throws"),
        ({"on_retry_exhausted": "register_application"}, "options.on_retry_exhausted"),
        ({"max_retries": -1}, "options.max_retries"),
        ({"time_limit": 1}, "options.time_limit"),
        ({"retries": -1}, "options.retries"),
        ({"retries": "1"}, "options.retries"),
    ],
)
def test_options_that_would_steer_the_worker_are_refused(
    broker: StubBroker, options: dict[str, Any], field: str
) -> None:
    assert _reason(screen(_body(options=options), "status", broker)).startswith(
        f"not a Dramatiq message: {field}: "
    )


def test_a_missing_or_unknown_field_is_named(broker: StubBroker) -> None:
    message = json.loads(_body())
    del message["message_timestamp"]
    message["extra"] = 1
    reason = _reason(screen(json.dumps(message).encode(), "status", broker))
    assert "message_timestamp: Field required" in reason
    assert "extra: Extra inputs are not permitted" in reason


@pytest.mark.parametrize(
    ("content_type", "content_encoding", "reason"),
    [
        ("text/plain", None, "content_type: 'text/plain' is not application/json"),
        ("", None, "content_type: '' is not application/json"),
        ("application/json", "gzip", "content_encoding: 'gzip' is not supported"),
    ],
)
def test_a_content_type_other_than_json_is_refused(
    broker: StubBroker, content_type: str, content_encoding: str | None, reason: str
) -> None:
    verdict = screen(
        _body(), "status", broker, content_type=content_type, content_encoding=content_encoding
    )
    assert _reason(verdict) == reason


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "application/json; charset=utf-8"]
)
def test_json_or_no_content_type_passes(broker: StubBroker, content_type: str | None) -> None:
    assert isinstance(
        screen(_body(), "status", broker, content_type=content_type), dramatiq.Message
    )


def test_a_body_with_thousands_of_errors_is_refused_with_the_first_ten_named(
    broker: StubBroker,
) -> None:
    message = json.loads(_body())
    message.update({f"x{i}": i for i in range(5000)})
    reason = _reason(screen(json.dumps(message).encode(), "status", broker))
    assert reason.startswith("not a Dramatiq message: x0: Extra inputs are not permitted; x1:")
    assert reason.endswith("; and 4990 more")
    assert len(reason) < 1000
