"""Hostile AMQP messages for werving's consumers: generated with Hypothesis, plus a fixed
list of known killers. Each has a message id of its own, so that its dead letter can be
found."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pika
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from shared.messaging.consumer import RECURSION_LIMIT_FOR_HEADERS
from shared.messaging.routes import STATUS_COMMAND_TYPES

T = TypeVar("T")

NESTED_ARRAYS = b'{"a":' + b"[" * 1000 + b"]" * 1000 + b"}"  # the body of issue 18
DEEPEST_HEADER = 18_000  # about as deep as a header table in a 128 KiB frame goes


@dataclass(frozen=True)
class Published:
    """One message to publish: its body and properties; ``label`` says what it is."""

    label: str
    body: bytes
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    content_type: str | None = "application/json"
    content_encoding: str | None = None
    headers: dict[str, Any] | None = None
    with_user_id: bool = True
    queue: str | None = None  # another queue than the one under test (a delay queue)

    def properties(self, user_id: str) -> pika.BasicProperties:
        return pika.BasicProperties(
            delivery_mode=2,
            message_id=self.message_id,
            user_id=user_id if self.with_user_id else None,
            content_type=self.content_type,
            content_encoding=self.content_encoding,
            headers=self.headers,
        )


def draw(strategy: st.SearchStrategy[T], n: int) -> list[T]:
    """``n`` examples of ``strategy``, as Hypothesis generates them for a test."""
    found: list[T] = []

    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: T) -> None:
        found.append(example)

    while len(found) < n:
        collect()
    return found[:n]


# -- building blocks ---------------------------------------------------------------------

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
not_a_string = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.lists(json_values, max_size=3),
    st.dictionaries(st.text(max_size=5), json_values, max_size=3),
)
header_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
headers = st.none() | st.dictionaries(st.text(min_size=1, max_size=10), header_values, max_size=4)
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", None]
)  # what a well-behaved publisher sets
wrong_content_types = st.sampled_from(
    ["text/plain", "application/xml", "application/octet-stream", "application/jsonx", ""]
) | st.text(min_size=1, max_size=20).filter(lambda t: not t.lower().startswith("application/json"))


def nested_headers(depth: int) -> dict[str, Any]:
    table: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        table = {"t": table}
    return table


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


@st.composite
def _with_properties(draw_: st.DrawFn, bodies: st.SearchStrategy[bytes], label: str) -> Published:
    wrong_type = draw_(st.booleans())
    return Published(
        label=label,
        body=draw_(bodies),
        content_type=draw_(wrong_content_types if wrong_type else content_types),
        headers=draw_(headers),
    )


# -- the ingress -------------------------------------------------------------------------


def ingress_hostile(envelope: Callable[[], dict[str, Any]]) -> st.SearchStrategy[Published]:
    """Messages the ingress must dead-letter; ``envelope`` makes a valid one to spoil."""

    @st.composite
    def spoiled(draw_: st.DrawFn) -> bytes:
        valid = envelope()
        how = draw_(st.sampled_from(["key", "type", "drop", "extra", "vacancy", "bulk"]))
        if how == "key":
            valid["idempotency_key"] = draw_(not_a_string)
        elif how == "type":
            valid["command"]["type"] = draw_(
                st.text(max_size=30).filter(lambda t: t not in STATUS_COMMAND_TYPES)
            )
        elif how == "drop":
            del valid[draw_(st.sampled_from(["idempotency_key", "command"]))]
        elif how == "extra":
            valid["x_" + draw_(st.text(max_size=10))] = draw_(json_values)
        elif how == "vacancy":
            valid["command"]["vacancy_id"] = draw_(
                not_a_string | st.text(max_size=40).filter(lambda t: len(t) != 36)
            )
        else:
            valid["application_ids"] = draw_(st.lists(st.text(max_size=10), max_size=3))
        return _dumps(valid)

    bodies = st.one_of(
        st.binary(max_size=300),
        json_values.map(_dumps),
        spoiled(),
    )
    return _with_properties(bodies, "generated")


def ingress_fixed(envelope: Callable[[], dict[str, Any]]) -> list[Published]:
    """The known killers of issue 18, and their kin."""
    big = envelope()
    big["command"]["pad"] = "x" * (10 * 1024 * 1024)
    return [
        Published("nested arrays", NESTED_ARRAYS),
        Published("10 MB of JSON", _dumps(big)),
        Published("invalid UTF-8", b'{"idempotency_key": "\xff\xfe", "command": {}}'),
        Published("null", b"null"),
        Published("a bare number", b"42"),
        Published("100,000 [", b"[" * 100_000),
        Published("empty", b""),
        Published("wrong content type", _dumps(envelope()), content_type="text/plain"),
        Published("gzip", _dumps(envelope()), content_encoding="gzip"),
        Published("no user_id", _dumps(envelope()), with_user_id=False),
        Published("nested header tables", b"{}", headers=nested_headers(50)),
        Published("deepest header tables", b"{}", headers=nested_headers(DEEPEST_HEADER)),
    ]


# -- the workers -------------------------------------------------------------------------


def dramatiq_message(
    queue: str, actor: str, args: list[Any], message_id: str, **fields: Any
) -> dict[str, Any]:
    return {
        "queue_name": queue,
        "actor_name": actor,
        "args": args,
        "kwargs": {},
        "options": {},
        "message_id": message_id,
        "message_timestamp": int(time.time() * 1000),
        **fields,
    }


WRONG_OPTIONS: list[dict[str, Any]] = [
    {"throws": "ValueError"},
    {"on_retry_exhausted": "register_application"},
    {"max_retries": -1},
    {"time_limit": "soon"},
    {"retries": -1},
    {"pipe_target": {"queue_name": "status"}},
    {"eta": 0},  # an eta outside a delay queue
    {"retries": "1"},
]


def worker_hostile(queue: str, actor: str, other_actor: str) -> st.SearchStrategy[Published]:
    """Messages a worker on ``queue`` (running ``actor``) must dead-letter."""

    @st.composite
    def spoiled(draw_: st.DrawFn) -> Published:
        message_id = str(uuid.uuid4())
        ids = {"command_id": str(uuid.uuid4()), "organisation_id": str(uuid.uuid4())}
        if queue != "status":
            ids = {"job_id": str(uuid.uuid4()), "organisation_id": str(uuid.uuid4())}
        message = dramatiq_message(queue, actor, [ids], message_id)
        how = draw_(
            st.sampled_from(
                ["queue", "actor", "options", "args", "kwargs", "drop", "extra", "type", "payload"]
            )
        )
        if how == "queue":
            message["queue_name"] = draw_(
                st.sampled_from(["status", "mail", "documents", f"{queue}.DQ", f"{queue}.XQ"])
                .filter(lambda q: q != queue)
                .map(str)
                | st.text(max_size=20).filter(lambda q: q != queue)
            )
        elif how == "actor":
            message["actor_name"] = draw_(
                st.just(other_actor) | st.text(max_size=20).filter(lambda a: a != actor)
            )
        elif how == "options":
            message["options"] = draw_(
                st.sampled_from(WRONG_OPTIONS)
                | st.dictionaries(
                    st.text(min_size=1, max_size=10).filter(
                        lambda k: k not in ("retries", "traceback", "requeue_timestamp")
                    ),
                    json_values,
                    min_size=1,
                    max_size=3,
                )
            )
        elif how == "args":
            message["args"] = draw_(
                st.sampled_from([[], [ids, ids], [ids, 1]]) | not_a_string.filter(_not_a_list)
            )
        elif how == "kwargs":
            message["kwargs"] = draw_(
                st.dictionaries(st.text(min_size=1, max_size=8), json_values, min_size=1)
            )
        elif how == "drop":
            del message[draw_(st.sampled_from(sorted(message)))]
        elif how == "extra":
            message["x_" + draw_(st.text(max_size=8))] = draw_(json_values)
        elif how == "type":
            name = draw_(st.sampled_from(["message_timestamp", "message_id", "actor_name"]))
            message[name] = draw_(not_a_string.filter(lambda v: not isinstance(v, int | str)))
        else:  # fits the actor's signature; its payload is what is wrong
            message["args"] = [
                draw_(
                    st.just(ids)  # a command or job that does not exist
                    | st.dictionaries(st.text(max_size=12), json_values, max_size=4)
                    | json_values
                )
            ]
        wrong_type = draw_(st.integers(0, 9)) == 0
        return Published(
            label=f"spoiled {how}",
            body=_dumps(message),
            message_id=message_id,
            content_type=draw_(wrong_content_types if wrong_type else content_types),
            headers=draw_(headers),
        )

    return st.one_of(
        _with_properties(st.binary(max_size=300), "bytes"),
        _with_properties(json_values.map(_dumps), "odd JSON"),
        spoiled(),
    )


def _not_a_list(value: Any) -> bool:
    return not isinstance(value, list)


def worker_fixed(queue: str, actor: str) -> list[Published]:
    ids = {"job_id": str(uuid.uuid4()), "organisation_id": str(uuid.uuid4())}

    def shaped(on: str = queue, **fields: Any) -> tuple[bytes, str]:
        message_id = str(uuid.uuid4())
        return _dumps({**dramatiq_message(on, actor, [ids], message_id), **fields}), message_id

    a_day_ahead = {"eta": int(time.time() * 1000) + 86_400_000}
    return [
        Published("nested arrays", NESTED_ARRAYS),
        Published("10 MB of JSON", *shaped(args=["x" * (10 * 1024 * 1024)])),
        Published("invalid UTF-8", b'{"queue_name": "\xff\xfe"}'),
        Published("null", b"null"),
        Published("a bare number", b"42"),
        Published("100,000 [", b"[" * 100_000),
        Published("empty", b""),
        Published("wrong content type", *shaped(), content_type="text/plain"),
        Published("nested header tables", b"{}", headers=nested_headers(50)),
        Published("deepest header tables", b"{}", headers=nested_headers(DEEPEST_HEADER)),
        Published(
            "eta a day ahead", *shaped(f"{queue}.DQ", options=a_day_ahead), queue=f"{queue}.DQ"
        ),
        Published("no eta on a delay queue", *shaped(f"{queue}.DQ"), queue=f"{queue}.DQ"),
        Published("a message of the queue on its delay queue", *shaped(), queue=f"{queue}.DQ"),
    ]


def publish_all(
    url: str, user_id: str, queue: str, messages: Iterable[Published], *, exchange: str = ""
) -> None:
    """Publish each message with confirms, as ``user_id``: on ``exchange``, with ``queue`` (or
    the message's own) as the routing key."""
    # pika encodes header tables recursively, as it decodes them.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT_FOR_HEADERS))
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for message in messages:
            channel.basic_publish(
                exchange, message.queue or queue, message.body, message.properties(user_id)
            )
    finally:
        connection.close()
