"""Helpers the benchmarks share: ports, bounded waits, subprocesses, a throwaway database.

Stand-alone on purpose: the benchmarks import nothing from ``tests/``.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pika
import psycopg
from pika.exceptions import ChannelClosedByBroker

BIN = Path(sys.executable).parent
POSTGRES_ADMIN_URL = os.environ.get(
    "WERVING_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RABBITMQ_URL = os.environ.get("WERVING_BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
EVENTS_EXCHANGE = "werving.events"
BENCH_QUEUE = "werving.bench.events"
BENCH_BINDING = "bench.#"
PHASE_TIMEOUT_S = 300.0


class BenchError(RuntimeError):
    """A benchmark could not produce its figure (a timeout, a refused message, a dead process)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout_s: float = 30,
    interval_s: float = 0.05,
    what: str = "condition",
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval_s)
    raise BenchError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def bench_payload(seq: int) -> dict[str, Any]:
    """A small event payload whose compact JSON is about 200 bytes."""
    return {
        "event_id": str(uuid.uuid4()),
        "name": "bench.event",
        "organisation_id": "00000000-0000-7000-8000-000000000000",
        "seq": seq,
        "occurred_at": "2026-01-01T00:00:00.000000+00:00",
        "note": "x" * 36,
    }


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


# -- processes -------------------------------------------------------------------------


class Process:
    """A subprocess in its own process group, with its output in a log file."""

    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            args,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise BenchError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """SIGTERM to the whole process group, SIGKILL if it is still there after 15 s."""
        try:
            if self.popen.poll() is None:
                try:
                    os.killpg(self.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    return
                try:
                    self.popen.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                    self.popen.wait(timeout=15)
        finally:
            self._log.close()


# -- PostgreSQL ------------------------------------------------------------------------


def database_url(name: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh, migrated database ``werving_bench_<hex>``, dropped afterwards."""
    from shared.db.migrate import upgrade

    name = f"werving_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = database_url(name)
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sql(url: str, statement: str, *, autocommit: bool = True) -> list[tuple[Any, ...]]:
    """Run one statement on its own connection; returns the rows, if any."""
    with psycopg.connect(url, autocommit=autocommit) as connection:
        cursor = connection.execute(statement.encode())
        return list(cursor.fetchall()) if cursor.description else []


def server_versions(url: str) -> dict[str, str]:
    versions = {"postgresql": str(sql(url, "SHOW server_version")[0][0])}
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        properties = connection._impl.server_properties
        raw = properties.get("version", b"?")
        versions["rabbitmq"] = raw.decode() if isinstance(raw, bytes) else str(raw)
    finally:
        connection.close()
    return versions


# -- RabbitMQ --------------------------------------------------------------------------


@contextmanager
def amqp_channel() -> Iterator[Any]:
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        yield connection.channel()
    finally:
        connection.close()


def declare_bench_queue() -> None:
    """A durable queue bound to the events exchange, so bench events are stored like real ones."""
    with amqp_channel() as channel:
        channel.exchange_declare(EVENTS_EXCHANGE, exchange_type="topic", durable=True)
        channel.queue_declare(BENCH_QUEUE, durable=True)
        channel.queue_bind(BENCH_QUEUE, EVENTS_EXCHANGE, routing_key=BENCH_BINDING)
        channel.queue_purge(BENCH_QUEUE)


def queue_depth(queue: str) -> tuple[int, int]:
    """(messages, consumers) of ``queue``; (-1, -1) when it does not exist."""
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        channel = connection.channel()
        try:
            ok = channel.queue_declare(queue, passive=True)
        except ChannelClosedByBroker:
            return -1, -1
        return int(ok.method.message_count), int(ok.method.consumer_count)
    finally:
        connection.close()


def purge_queues(queues: list[str]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        for queue in queues:
            channel = connection.channel()
            try:
                channel.queue_purge(queue)
                channel.close()
            except ChannelClosedByBroker:
                pass  # not declared yet: nothing to purge
    finally:
        connection.close()


def delete_bench_queue() -> None:
    with amqp_channel() as channel:
        channel.queue_delete(BENCH_QUEUE)


# -- numbers ---------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def fmt(value: float) -> str:
    return f"{value:,.0f}"
