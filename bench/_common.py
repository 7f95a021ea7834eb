"""Helpers the benchmarks share: ports, bounded waits, subprocesses, a throwaway database.

Stand-alone on purpose: the benchmarks import nothing from ``tests/``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import pika
import psycopg
from pika.exceptions import ChannelClosedByBroker

from shared.messaging.backlog import queue_depths

BIN = Path(sys.executable).parent
POSTGRES_ADMIN_URL = os.environ.get(
    "WERVING_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RABBITMQ_URL = os.environ.get("WERVING_BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
EVENTS_EXCHANGE = "werving.events"
BENCH_QUEUE = "werving.bench.events"
# Bench events belong to an organisation of their own, as every event's routing key names one.
BENCH_ORGANISATION = uuid.UUID("00000000-0000-7000-8000-00000000be4c")
BENCH_BINDING = f"{BENCH_ORGANISATION}.bench.#"
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
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url()))
    try:
        properties = connection._impl.server_properties
        raw = properties.get("version", b"?")
        versions["rabbitmq"] = raw.decode() if isinstance(raw, bytes) else str(raw)
    finally:
        connection.close()
    return versions


# -- RabbitMQ --------------------------------------------------------------------------

_broker_url = [RABBITMQ_URL]


def rabbitmq_url() -> str:
    """The broker URL of this run: the bench's own vhost inside :func:`bench_vhost`."""
    return _broker_url[0]


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def bench_vhost() -> Iterator[str]:
    """A RabbitMQ virtual host ``werving_bench_<hex>`` for this run, deleted afterwards.

    Other werving processes on the machine (a dev run, tests, another benchmark)
    then neither take nor add messages. Falls back to the URL's own vhost when
    ``WERVING_BENCH_RABBITMQ_URL`` is set or ``rabbitmqctl`` is missing or refuses.
    """
    if os.environ.get("WERVING_BENCH_RABBITMQ_URL") or not shutil.which("rabbitmqctl"):
        yield RABBITMQ_URL
        return
    vhost = f"werving_bench_{uuid.uuid4().hex[:8]}"
    try:
        _rabbitmqctl("add_vhost", vhost)
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"(no vhost of its own, using the default one: rabbitmqctl failed: {exc})")
        _delete_vhost(vhost)
        yield RABBITMQ_URL
        return
    _broker_url[0] = RABBITMQ_URL.rsplit("/", 1)[0] + f"/{vhost}"
    try:
        yield _broker_url[0]
    finally:
        _broker_url[0] = RABBITMQ_URL
        _delete_vhost(vhost)


def _delete_vhost(vhost: str) -> None:
    with suppress(OSError, subprocess.SubprocessError):  # never created, or already gone
        _rabbitmqctl("delete_vhost", vhost)


@contextmanager
def amqp_channel() -> Iterator[Any]:
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url()))
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


@contextmanager
def quiet_pika() -> Iterator[None]:
    """Silence pika's warning about the channel the broker closes on a missing queue."""
    logger = logging.getLogger("pika.channel")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def queue_depth(queue: str) -> tuple[int, int]:
    """(messages, consumers) of ``queue``; (-1, -1) when it does not exist."""
    with quiet_pika():
        (depth,) = queue_depths(rabbitmq_url(), [queue])
    if depth.messages is None or depth.consumers is None:
        return -1, -1
    return depth.messages, depth.consumers


def purge_queues(queues: list[str]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url()))
    try:
        for queue in queues:
            channel = connection.channel()
            try:
                with quiet_pika():
                    channel.queue_purge(queue)
                channel.close()
            except ChannelClosedByBroker:
                pass  # not declared yet: nothing to purge
    finally:
        connection.close()


def delete_bench_queue() -> None:
    with amqp_channel() as channel:
        channel.queue_delete(BENCH_QUEUE)


def take_over_queue(queue: str) -> None:
    """Purge ``queue`` (and its ``.DQ``/``.XQ``), refusing when someone consumes from it."""
    messages, consumers = queue_depth(queue)
    if messages < 0:
        return  # not declared yet (a fresh vhost): nothing to purge
    if consumers > 0:
        raise BenchError(
            f"the '{queue}' queue already has {consumers} consumer(s) (another worker or"
            " a test run?): they would take the benchmark's messages. Stop them and retry."
        )
    purge_queues([queue, f"{queue}.DQ", f"{queue}.XQ"])


# -- numbers ---------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def fmt(value: float) -> str:
    return f"{value:,.0f}"


# -- CPU accounting (Linux /proc) ------------------------------------------------------

_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (field 3 is index 0)."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads); 0 when it is gone."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def _all_pids() -> list[int]:
    if not PROC.is_dir():
        return []
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def parent_pid(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[1]) if fields else -1


def process_group(pgid: int) -> list[int]:
    """Every process in process group ``pgid`` (a subprocess started in its own session)."""
    return [pid for pid in _all_pids() if (fields := _stat(pid)) and int(fields[2]) == pgid]


def _machine_ticks() -> tuple[int, int, int]:
    """(busy, steal, total) ticks over all CPUs since boot; zeros off Linux."""
    stat = PROC / "stat"
    if not stat.exists():
        return 0, 0, 0
    first = stat.read_text().splitlines()[0].split()
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in first[1:9])
    busy = user + nice + system + irq + softirq
    return busy, steal, busy + steal + idle + iowait


def _all_cpu() -> dict[int, tuple[str, bool, float]]:
    """Every process: (command name, is a kernel thread, CPU seconds)."""
    found = {}
    for pid in _all_pids():
        fields = _stat(pid)
        if fields is None:
            continue
        try:
            comm = (PROC / str(pid) / "comm").read_text().strip()
        except OSError:
            continue
        kernel = int(fields[1]) == 2 or pid == 2  # children of kthreadd
        found[pid] = (comm, kernel, (int(fields[11]) + int(fields[12])) / _TICKS_PER_S)
    return found


class CpuMeter:
    """CPU seconds used by named groups of processes between ``start`` and ``stop``,
    and by everything else on the machine meanwhile.

    A group is a callable that lists its pids when asked, or a command name
    (``postgres``): the processes of that name that no earlier group took. A
    process that appears in between counts from zero (its whole life), one that
    ends in between is lost.
    """

    OTHERS = "other processes"
    KERNEL = "kernel threads"
    UNATTRIBUTED = "unattributed"

    def __init__(self, groups: dict[str, Callable[[], list[int]] | str]) -> None:
        self._groups = groups
        self._before: dict[int, tuple[str, bool, float]] = {}
        self._machine_before = (0, 0, 0)
        self.used_s: dict[str, float] = {}
        self.others_by_name: dict[str, float] = {}
        self.machine_busy = 0.0  # fraction of all CPUs' time, steal excluded
        self.machine_steal = 0.0  # fraction taken by the hypervisor from this guest

    def start(self) -> None:
        self._before = _all_cpu()
        self._machine_before = _machine_ticks()

    def stop(self) -> None:
        after = _machine_ticks()
        now = _all_cpu()
        busy, steal, total = (a - b for a, b in zip(after, self._machine_before, strict=True))
        if total > 0:
            self.machine_busy, self.machine_steal = busy / total, steal / total

        def used(pid: int) -> float:
            before = self._before.get(pid)
            return now[pid][2] - (before[2] if before else 0.0)

        grouped: set[int] = set()
        self.used_s = {}
        for name, group in self._groups.items():
            listed = (
                [pid for pid, (comm, _, _) in now.items() if comm == group]
                if isinstance(group, str)
                else group()
            )
            pids = [pid for pid in listed if pid in now and pid not in grouped]
            grouped.update(pids)
            self.used_s[name] = sum(used(pid) for pid in pids)
        others: defaultdict[str, float] = defaultdict(float)
        kernel = 0.0
        for pid, (comm, is_kernel, _) in now.items():
            if pid in grouped:
                continue
            if is_kernel:
                kernel += used(pid)
            else:
                others[comm] += used(pid)
        top = sorted(others.items(), key=lambda item: -item[1])[:3]
        self.others_by_name = {k: v for k, v in top if v > 0.005}
        self.used_s[self.OTHERS] = sum(others.values())
        self.used_s[self.KERNEL] = kernel
        # Processes that ended before ``stop`` (short-lived commands, test runs), and
        # interrupts that no process was charged with.
        self.used_s[self.UNATTRIBUTED] = max(0.0, busy / _TICKS_PER_S - sum(self.used_s.values()))

    @property
    def others_share(self) -> float:
        """The part of the machine's busy time that nothing measured here used."""
        total = sum(self.used_s.values())
        foreign = self.used_s.get(self.OTHERS, 0.0) + self.used_s.get(self.UNATTRIBUTED, 0.0)
        return foreign / total if total else 0.0

    def per_unit_ms(self, units: int) -> str:
        text = ", ".join(f"{name} {s * 1000 / units:.2f}" for name, s in self.used_s.items())
        if self.others_by_name:
            names = ", ".join(f"{k} {v * 1000 / units:.2f}" for k, v in self.others_by_name.items())
            text += f" (others: {names})"
        return text


WORKER_POLL_S = 0.02
# Units of work done before a worker figure's clock starts, and as many untimed ones by
# its raw counterpart first: fresh worker processes open their connections (PostgreSQL,
# SMTP), and compile their templates and statements, on their first messages.
WARM_UP = 200
WORKER_STARTUP_TIMEOUT_S = 60.0
# Lines in a worker's log that mean a message did not simply succeed.
WORKER_TROUBLE = re.compile(r"Failed to process message|Retrying message|Traceback")


def wait_first_drop(queue: str, n: int, process: Process) -> float:
    """Poll ``queue``'s ready count every 20 ms until it drops below ``n``: the moment
    the worker took its first message (perf_counter)."""
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url()))
    try:
        channel = connection.channel()
        deadline = time.monotonic() + WORKER_STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            ok = channel.queue_declare(queue, passive=True)
            if int(ok.method.message_count) < n:
                return time.perf_counter()
            process.check_alive()
            time.sleep(WORKER_POLL_S)
    finally:
        connection.close()
    raise BenchError(
        f"the worker took no message in {WORKER_STARTUP_TIMEOUT_S:.0f} s:\n{process.tail()}"
    )


# -- rounds ----------------------------------------------------------------------------


class Rated(Protocol):
    @property
    def rate(self) -> float: ...


W = TypeVar("W", bound=Rated)
R = TypeVar("R", bound=Rated)


@dataclass
class Round(Generic[W, R]):
    """One worker figure and the raw figures measured just before and just after it."""

    worker: W
    raw_before: R
    raw_after: R

    @property
    def raw_rate(self) -> float:
        return (self.raw_before.rate + self.raw_after.rate) / 2

    @property
    def ratio(self) -> float:
        return self.worker.rate / self.raw_rate


def median_round(rounds: Sequence[Round[W, R]]) -> Round[W, R]:
    """The round with the median ratio: this machine's speed drifts by a fifth or more
    within a minute, and a round's raw and worker phases are seconds apart."""
    return sorted(rounds, key=lambda r: r.ratio)[len(rounds) // 2]
