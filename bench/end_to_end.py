"""End to end on the real processes: HTTP accept -> outbox -> relay -> RabbitMQ -> status worker.

``withdraw_application`` commands for applications seeded in status ``received``.
Latency per command is the worker's ``completed_at`` (set in the transaction that
applies the command, just before its commit) minus the client's clock when the 202
arrived; both clocks are this machine's, in UTC.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
from sqlalchemy import insert

from bench._common import (
    BIN,
    PHASE_TIMEOUT_S,
    BenchError,
    Process,
    free_port,
    percentile,
    queue_depth,
    rabbitmq_url,
    sql,
    take_over_queue,
    wait_until,
)
from services.command_api.api_keys import ALL_SCOPES, create_api_key, create_organisation
from shared.db.database import Database
from shared.db.models import Applicant, Application, Vacancy
from shared.db.types import utcnow
from shared.ids import new_id
from shared.messaging.routes import STATUS_QUEUE

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Setup:
    worker_processes: int = 2
    worker_threads: int = 4
    concurrency: int = 8
    # The experiment: without the outbox's NOTIFY trigger the relay polls instead.
    notify_trigger: bool = True
    relay_poll_interval_s: float | None = None


@dataclass
class Accepted:
    command_id: uuid.UUID
    accepted_at: datetime
    round_trip_s: float


@dataclass
class EndToEndResult:
    commands: int
    seconds: float  # first 202 -> last completed_at
    latencies_ms: list[float]  # sorted
    accept_seconds: float  # first POST sent -> last 202 received
    accept_round_trips_ms: list[float]  # sorted
    relay_leg_ms: list[float]  # sorted: 202 -> task confirmed by RabbitMQ (relay's clock)
    worker_leg_ms: list[float]  # sorted: task confirmed -> completed_at
    setup: Setup

    @property
    def rate(self) -> float:
        return self.commands / self.seconds

    @property
    def accept_rate(self) -> float:
        return self.commands / self.accept_seconds

    def latency(self, fraction: float) -> float:
        return percentile(self.latencies_ms, fraction)

    def accept_latency(self, fraction: float) -> float:
        return percentile(self.accept_round_trips_ms, fraction)


@dataclass
class HttpFloor:
    requests: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass(frozen=True)
class Tenant:
    organisation_id: uuid.UUID
    vacancy_id: uuid.UUID
    api_key: str
    applications: list[uuid.UUID]


def seed(url: str, n: int) -> Tenant:
    """An organisation with an API key, one vacancy and ``n`` applications in ``received``."""
    db = Database(url, pool_size=1)
    try:
        with db.transaction() as session:
            organisation = create_organisation(session, "Bench BV")
            api_key = create_api_key(session, organisation.id, list(ALL_SCOPES), name="bench")
            vacancy = Vacancy(organisation_id=organisation.id, title="Bench nurse")
            session.add(vacancy)
            session.flush()
            organisation_id, vacancy_id = organisation.id, vacancy.id
        now = utcnow()
        applicant_ids = [new_id() for _ in range(n)]
        application_ids = [new_id() for _ in range(n)]
        with db.transaction() as session:
            session.execute(
                insert(Applicant),
                [
                    {
                        "id": applicant_id,
                        "organisation_id": organisation_id,
                        "name": f"Applicant {i}",
                        "email": f"applicant-{i}@example.org",
                        "created_at": now,
                    }
                    for i, applicant_id in enumerate(applicant_ids)
                ],
            )
            session.execute(
                insert(Application),
                [
                    {
                        "id": application_id,
                        "organisation_id": organisation_id,
                        "vacancy_id": vacancy_id,
                        "applicant_id": applicant_id,
                        "status": "received",
                        "screening_answers": [],
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for application_id, applicant_id in zip(
                        application_ids, applicant_ids, strict=True
                    )
                ],
            )
        return Tenant(organisation_id, vacancy_id, api_key, application_ids)
    finally:
        db.dispose()


class Client:
    """``concurrency`` threads, each with its own keep-alive ``httpx.Client``."""

    def __init__(self, base_url: str, headers: dict[str, str], concurrency: int) -> None:
        self._base_url = base_url
        self._headers = headers
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="bench-client")

    def http(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self._base_url, headers=self._headers, timeout=30)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def run_all(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``fn`` over ``items`` on the pool, bounded by the phase timeout; results in order."""
        futures = {self._pool.submit(fn, item): i for i, item in enumerate(items)}
        results: list[Any] = [None] * len(items)
        for future in as_completed(futures, timeout=PHASE_TIMEOUT_S):
            results[futures[future]] = future.result()
        return results

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for client in self._clients:
            client.close()


def submit_withdrawal(client: Client, application_id: uuid.UUID) -> Accepted:
    started = time.perf_counter()
    response = client.http().post(
        "/v1/commands",
        json={"type": "withdraw_application", "application_id": str(application_id)},
        headers={"Idempotency-Key": f"bench-{uuid.uuid4()}"},
    )
    accepted_at = datetime.now(UTC)
    round_trip = time.perf_counter() - started
    if response.status_code != 202:
        raise BenchError(f"POST /v1/commands answered {response.status_code}: {response.text}")
    return Accepted(uuid.UUID(response.json()["command_id"]), accepted_at, round_trip)


def http_floor(client: Client, n: int) -> HttpFloor:
    """``n`` GET /healthz through the same client: what the HTTP stack alone allows."""

    def get(_: int) -> None:
        response = client.http().get("/healthz")
        if response.status_code != 200:
            raise BenchError(f"/healthz answered {response.status_code}")

    started = time.perf_counter()
    client.run_all(get, range(n))
    return HttpFloor(n, time.perf_counter() - started)


@dataclass
class Running:
    base_url: str
    processes: list[Process]

    def check_alive(self) -> None:
        for process in self.processes:
            process.check_alive()


@contextmanager
def werving_processes(url: str, setup: Setup, log_dir: Path) -> Iterator[Running]:
    """API, relay and status worker as subprocesses, ready to take commands.

    Every process runs in its own group and is stopped with SIGTERM when the block
    ends, whatever happened inside it.
    """
    env = {
        "WERVING_DATABASE_URL": url,
        "WERVING_BROKER_URL": rabbitmq_url(),
        "WERVING_LOG_LEVEL": "WARNING",
    }
    if setup.relay_poll_interval_s is not None:
        env["WERVING_RELAY_POLL_INTERVAL_S"] = str(setup.relay_poll_interval_s)
    take_over_queue(STATUS_QUEUE)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    database = url.rsplit("/", 1)[1]
    with ExitStack() as stack:
        processes: list[Process] = []

        def start(name: str, args: list[str]) -> Process:
            process = Process(name, args, env=env, log_dir=log_dir)
            stack.callback(process.stop)
            processes.append(process)
            return process

        def ready(check: Callable[[], bool]) -> Callable[[], bool]:
            def alive_and_ready() -> bool:
                for process in processes:
                    process.check_alive()
                return check()

            return alive_and_ready

        start(
            "status_worker",
            [
                str(BIN / "dramatiq"),
                "services.status_worker.actors",
                "--queues",
                STATUS_QUEUE,
                "--processes",
                str(setup.worker_processes),
                "--threads",
                str(setup.worker_threads),
            ],
        )
        start("relay", [str(BIN / "werving"), "relay"])
        start("api", [str(BIN / "werving"), "api", "--port", str(port)])
        wait_until(ready(_http_ok(f"{base_url}/healthz")), timeout_s=60, what="the API")
        wait_until(
            ready(lambda: queue_depth(STATUS_QUEUE)[1] >= setup.worker_processes),
            timeout_s=60,
            what="the status worker's consumers",
        )
        wait_until(ready(lambda: _relay_listening(url, database)), timeout_s=60, what="the relay")
        try:
            yield Running(base_url, processes)
        except BaseException:
            for process in processes:
                print(f"--- {process.name} log (tail) ---\n{process.tail()}")
            raise


def _http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def _relay_listening(url: str, database: str) -> bool:
    rows = sql(
        url,
        "SELECT count(*) FROM pg_stat_activity"
        f" WHERE datname = '{database}' AND query LIKE 'LISTEN %'",
    )
    return bool(rows[0][0])


def wait_for_outcomes(url: str, total: int, processes_alive: Callable[[], None]) -> None:
    """Poll until ``total`` commands have an outcome (bounded by count and by time)."""
    deadline = time.monotonic() + PHASE_TIMEOUT_S
    done = 0
    with psycopg.connect(url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT count(*) FROM commands WHERE status <> 'accepted'"
            ).fetchone()
            done = int(row[0]) if row else 0
            if done >= total:
                return
            processes_alive()
            time.sleep(0.05)
        row = connection.execute(
            "SELECT count(*) FILTER (WHERE published_at IS NULL), max(last_error) FROM outbox"
        ).fetchone()
    messages, consumers = queue_depth(STATUS_QUEUE)
    raise BenchError(
        f"timed out after {PHASE_TIMEOUT_S:.0f} s waiting for {total} outcomes ({done} done);"
        f" outbox unpublished/last error: {row}; '{STATUS_QUEUE}' queue: {messages} messages,"
        f" {consumers} consumers (more than the worker's processes means someone else's"
        " worker is taking the benchmark's messages)"
    )


@dataclass(frozen=True)
class Outcome:
    status: str
    completed_at: datetime
    published_at: datetime  # the relay's clock when RabbitMQ had confirmed the task


def outcomes(url: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, Outcome]:
    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT c.id, c.status, c.completed_at, o.published_at FROM commands c"
            " JOIN outbox o ON o.kind = 'task' AND o.payload->>'command_id' = c.id::text"
            " WHERE c.id = ANY(%s)",
            (ids,),
        ).fetchall()
    return {row[0]: Outcome(row[1], row[2], row[3]) for row in rows}


def end_to_end(
    url: str, n: int, setup: Setup, log_dir: Path, *, floor_requests: int
) -> tuple[EndToEndResult, HttpFloor]:
    warm_up = max(20, min(100, n // 20))
    if not setup.notify_trigger:
        sql(url, "DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    before = int(sql(url, "SELECT count(*) FROM commands WHERE status <> 'accepted'")[0][0])
    tenant = seed(url, n + warm_up)
    warm_ids, timed_ids = tenant.applications[:warm_up], tenant.applications[warm_up:]
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    with werving_processes(url, setup, log_dir) as running:
        client = Client(running.base_url, headers, setup.concurrency)
        alive = running.check_alive
        try:
            # Warm up every process (connection pools, statement caches), then idle.
            client.run_all(lambda a: submit_withdrawal(client, a), warm_ids)
            wait_for_outcomes(url, before + warm_up, alive)
            floor = http_floor(client, floor_requests)

            sent = time.perf_counter()
            accepted = client.run_all(lambda a: submit_withdrawal(client, a), timed_ids)
            accept_seconds = time.perf_counter() - sent
            wait_for_outcomes(url, before + warm_up + n, alive)
        finally:
            client.close()
    found = outcomes(url, [a.command_id for a in accepted])
    failed = {o.status for o in found.values() if o.status != "succeeded"}
    if len(found) != n or failed:
        raise BenchError(f"{len(found)} of {n} commands found; other outcomes: {failed}")

    def ms(later: datetime, earlier: datetime) -> float:
        return (later - earlier).total_seconds() * 1000

    latencies = sorted(ms(found[a.command_id].completed_at, a.accepted_at) for a in accepted)
    relay_leg = sorted(ms(found[a.command_id].published_at, a.accepted_at) for a in accepted)
    worker_leg = sorted(ms(o.completed_at, o.published_at) for o in found.values())
    first_accept = min(a.accepted_at for a in accepted)
    last_completed = max(o.completed_at for o in found.values())
    result = EndToEndResult(
        commands=n,
        seconds=(last_completed - first_accept).total_seconds(),
        latencies_ms=latencies,
        accept_seconds=accept_seconds,
        accept_round_trips_ms=sorted(a.round_trip_s * 1000 for a in accepted),
        relay_leg_ms=relay_leg,
        worker_leg_ms=worker_leg,
        setup=setup,
    )
    return result, floor
