"""The status worker's throughput, from a full ``status`` queue to committed commands,
beside raw psycopg running the same kind of transaction on as many threads.

Worker: ``n`` ``withdraw_application`` commands for applications seeded in status
``received`` are accepted through ``acceptance.accept_command`` (command, outbox and
idempotency rows, 500 per transaction) and published to the ``status`` queue by the
real relay, with no worker running. After a few seconds for RabbitMQ to settle, the
real worker (``dramatiq services.status_worker.actors --queues status``) starts. The
queue holds ``WARM_UP`` (200) commands more than ``n``: the clock starts when that many
have status ``succeeded`` and runs until all have (polled every 20 ms). The rate with the
start-up included, from the first drop of the queue's ready count, is kept beside it.

Raw: 8 threads, one psycopg connection each, run ``WARM_UP`` untimed transactions, then
``n`` timed ones, on other applications of the same database: ``INSERT INTO inbox ...
ON CONFLICT DO NOTHING RETURNING``, ``SELECT ... FROM applications ... FOR UPDATE``,
``UPDATE applications``, ``INSERT INTO application_events``, ``COMMIT``. A second raw
variant adds what the withdraw handler's transaction also does (as of this writing):
lock and update the command row, cancel the application's pending mail jobs and future
interviews, and insert the two outbox rows (whose NOTIFY trigger takes PostgreSQL's
notify lock at commit).

Rounds: raw, then worker and raw again, ``rounds`` times (a batch of its own for every
figure, the database analysed before each worker figure); each worker figure is set
against the mean of the raw figures either side of it, and the round with the median
ratio is the figure. The full-set variant runs once, at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

import psycopg
from sqlalchemy import insert

from bench._common import (
    BIN,
    PHASE_TIMEOUT_S,
    WARM_UP,
    WORKER_POLL_S,
    WORKER_TROUBLE,
    BenchError,
    CpuMeter,
    Process,
    Round,
    median_round,
    parent_pid,
    process_group,
    rabbitmq_url,
    sql,
    wait_first_drop,
)
from bench.end_to_end import seed
from bench.queueing import accept_all, relay_to_queue
from shared.commands import WithdrawApplication
from shared.db.database import Database
from shared.db.models import CommandRecord
from shared.db.types import utcnow
from shared.ids import new_id
from shared.messaging.routes import STATUS_QUEUE

SETTLE_S = 3.0
CONSUMER = "status_worker"  # the worker's inbox consumer name
RAW_THREADS = 8


@dataclass(frozen=True)
class WorkerSetup:
    processes: int = 2
    threads: int = 8
    log_level: str = "WARNING"


@dataclass(frozen=True)
class Batch:
    """``n`` seeded applications with a command each, accepted or inserted as accepted."""

    organisation_id: uuid.UUID
    vacancy_id: uuid.UUID
    application_ids: list[uuid.UUID]
    command_ids: list[uuid.UUID]


@dataclass
class WorkerResult:
    commands: int  # timed, after the warm-up
    seconds: float  # warm-up succeeded -> every command succeeded (polled)
    cold_s: float  # first drop of the ready count -> every command succeeded, warm-up included
    to_first_commit_s: float  # first drop -> first completed_at
    cpu: CpuMeter  # from the end of the warm-up
    backend_states: Counter[str]  # samples of the worker's PostgreSQL connections
    setup: WorkerSetup
    profile: str = ""

    @property
    def rate(self) -> float:
        return self.commands / self.seconds

    @property
    def cold_rate(self) -> float:
        """Commands per second from the worker's start, its warm-up included."""
        return (self.commands + WARM_UP) / self.cold_s

    def states(self) -> str:
        total = sum(self.backend_states.values()) or 1
        return ", ".join(
            f"{state} {count / total:.0%}" for state, count in self.backend_states.most_common(7)
        )


@dataclass
class RawResult:
    transactions: int
    seconds: float
    threads: int
    full: bool
    cpu: CpuMeter

    @property
    def rate(self) -> float:
        return self.transactions / self.seconds


# -- set-up ----------------------------------------------------------------------------


def _withdrawal(i: int, application_id: uuid.UUID) -> WithdrawApplication:
    """Some variety in what is stored and validated: reason, note, actor, a version check."""
    return WithdrawApplication(
        application_id=application_id,
        reason="Found another job" if i % 2 else None,
        note=f"Called on {i % 28 + 1} November; prefers to stay in touch." if i % 3 == 0 else None,
        actor=f"recruiter-{i % 7}" if i % 4 else None,
        expected_version=1 if i % 5 == 0 else None,
    )


def accepted_batch(url: str, n: int) -> Batch:
    """Seed ``n`` applications and accept a withdrawal for each, as the API would."""
    tenant = seed(url, n)
    db = Database(url, pool_size=1)
    commands = (
        (f"bench-status-{i}", _withdrawal(i, application_id))
        for i, application_id in enumerate(tenant.applications)
    )
    try:
        command_ids = accept_all(db, tenant.organisation_id, commands)
    finally:
        db.dispose()
    return Batch(tenant.organisation_id, tenant.vacancy_id, tenant.applications, command_ids)


def stored_batch(url: str, n: int) -> Batch:
    """Seed ``n`` applications with an accepted command row each (no outbox: for raw SQL)."""
    tenant = seed(url, n)
    db = Database(url, pool_size=1)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    command_ids: list[uuid.UUID] = []
    for i, application_id in enumerate(tenant.applications):
        command = _withdrawal(i, application_id)
        command_ids.append(new_id())
        rows.append(
            {
                "id": command_ids[-1],
                "organisation_id": tenant.organisation_id,
                "type": command.type,
                "idempotency_key": f"bench-raw-{i}",
                "source": "http",
                "application_id": application_id,
                "payload": command.model_dump(mode="json"),
                "status": "accepted",
                "created_at": now,
            }
        )
    try:
        with db.transaction() as session:
            session.execute(insert(CommandRecord), rows)
    finally:
        db.dispose()
    return Batch(tenant.organisation_id, tenant.vacancy_id, tenant.applications, command_ids)


def publish_tasks(url: str, n: int) -> None:
    """Every outbox row relayed: the ``n`` tasks land in the ``status`` queue."""
    relay_to_queue(url, n, STATUS_QUEUE)


# -- the worker ------------------------------------------------------------------------


def _worker_args(setup: WorkerSetup) -> list[str]:
    return [
        str(BIN / "dramatiq"),
        "services.status_worker.actors",
        "--queues",
        STATUS_QUEUE,
        "--processes",
        str(setup.processes),
        "--threads",
        str(setup.threads),
    ]


def _py_spy() -> str | None:
    found = BIN / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


@contextmanager
def _worker(
    url: str, setup: WorkerSetup, log_dir: Path, profile_to: Path | None
) -> Iterator[Process]:
    """The status worker in its own process group; under py-spy when ``profile_to`` is set.

    Stopped with SIGTERM whatever happens; under py-spy, the worker gets it first so
    that py-spy sees it exit and writes its samples.
    """
    env = {
        "WERVING_DATABASE_URL": url,
        "WERVING_BROKER_URL": rabbitmq_url(),
        "WERVING_LOG_LEVEL": setup.log_level,
    }
    args = _worker_args(setup)
    spy = _py_spy() if profile_to is not None else None
    if spy is not None and profile_to is not None:
        args = [
            spy, "record", "--subprocesses", "--gil", "--nonblocking", "--rate", "250",
            "--format", "raw", "--output", str(profile_to), "--", *args,
        ]  # fmt: skip
    process = Process("status_worker", args, env=env, log_dir=log_dir)
    try:
        yield process
    finally:
        if spy is not None:
            _stop_children(process.popen.pid)
            with suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=30)
        process.stop()


def _stop_children(pid: int) -> None:
    for child in process_group(pid):
        if child != pid and parent_pid(child) == pid:
            with suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)


def _wait_committed(
    url: str,
    batch: Batch,
    process: Process,
    states: Counter[str],
    backend_pids: set[int],
    warmed_up: Callable[[], None],
) -> tuple[float, float]:
    """Poll until every command of ``batch`` succeeded; perf_counter when ``WARM_UP`` had
    (then ``warmed_up()`` is called), and when all had.

    Also samples the state of the worker's PostgreSQL connections at each poll, after
    the warm-up.
    """
    n = len(batch.command_ids)
    warm: float | None = None
    deadline = time.monotonic() + PHASE_TIMEOUT_S
    next_log_check = time.monotonic() + 1.0
    counts: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            rows = connection.execute(
                "SELECT status, count(*) FROM commands WHERE organisation_id = %s GROUP BY status",
                (batch.organisation_id,),
            ).fetchall()
            now = time.perf_counter()
            counts = {str(status): int(count) for status, count in rows}
            if warm is None and counts.get("succeeded", 0) >= WARM_UP:
                warm = now
                warmed_up()
            if warm is not None and counts.get("succeeded", 0) >= n:
                return warm, now
            if set(counts) - {"accepted", "succeeded"}:
                raise BenchError(f"commands ended otherwise: {counts}\n{process.tail()}")
            for pid, state, wait in connection.execute(
                "SELECT pid, state, wait_event_type || ':' || wait_event FROM pg_stat_activity"
                " WHERE datname = current_database() AND backend_type = 'client backend'"
                " AND pid <> pg_backend_pid()"
            ).fetchall():
                backend_pids.add(int(pid))
                if warm is not None:
                    states[_state(str(state), wait)] += 1
            if time.monotonic() > next_log_check:
                process.check_alive()
                if WORKER_TROUBLE.search(process.tail(20_000)):
                    raise BenchError(f"the worker reports failures:\n{process.tail()}")
                next_log_check = time.monotonic() + 1.0
            time.sleep(WORKER_POLL_S)
    raise BenchError(
        f"timed out after {PHASE_TIMEOUT_S:.0f} s: {counts} of {n} commands\n{process.tail()}"
    )


def _state(state: str, wait: str | None) -> str:
    if state == "active":
        return f"active, waiting on {wait}" if wait else "active (on CPU)"
    if state == "idle in transaction":
        return "idle in transaction (waiting for the worker)"
    return "idle (between transactions)" if state == "idle" else state


def _first_commit(url: str, batch: Batch) -> datetime:
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT min(completed_at) FROM commands WHERE organisation_id = %s",
            (batch.organisation_id,),
        ).fetchone()
    assert row is not None and isinstance(row[0], datetime)
    return row[0]


def worker_rate(
    url: str, batch: Batch, setup: WorkerSetup, log_dir: Path, *, profile: bool = False
) -> WorkerResult:
    """Time the real worker draining ``batch``, already in the ``status`` queue, from the
    moment its first ``WARM_UP`` commands have succeeded."""
    n = len(batch.command_ids)
    time.sleep(SETTLE_S)  # let RabbitMQ write the queue to disk and go quiet
    states: Counter[str] = Counter()
    backend_pids: set[int] = set()
    profile_path = log_dir / "py-spy.txt"
    with _worker(url, setup, log_dir, profile_path if profile else None) as process:
        cpu = CpuMeter(
            {
                "worker": lambda: process_group(process.popen.pid),
                "its PostgreSQL backends": lambda: sorted(backend_pids),
                "rest of PostgreSQL": "postgres",
                "RabbitMQ": "beam.smp",
                "bench": lambda: [os.getpid()],
            }
        )
        started, started_utc = wait_first_drop(STATUS_QUEUE, n, process), datetime.now(UTC)
        warm, finished = _wait_committed(
            url, batch, process, states, backend_pids, warmed_up=cpu.start
        )
        cpu.stop()
    first_commit = _first_commit(url, batch)
    report = ""
    if profile:
        report = (
            profile_report(profile_path.read_text())
            if profile_path.exists()
            else "  (no py-spy samples; the worker's log ends:)\n"
            + process.log_path.read_text(errors="replace")[-3000:]
        )
    return WorkerResult(
        commands=n - WARM_UP,
        seconds=finished - warm,
        cold_s=finished - started,
        to_first_commit_s=(first_commit - started_utc).total_seconds(),
        cpu=cpu,
        backend_states=states,
        setup=setup,
        profile=report,
    )


def py_spy_available() -> bool:
    return _py_spy() is not None


# -- raw psycopg -----------------------------------------------------------------------

_INBOX = (
    "INSERT INTO inbox (consumer, message_key, processed_at) VALUES (%s, %s, %s)"
    " ON CONFLICT (consumer, message_key) DO NOTHING RETURNING message_key"
)
_LOCK_COMMAND = (
    "SELECT id, organisation_id, type, idempotency_key, source, application_id, payload,"
    " status, outcome_code, outcome_message, result, created_at, completed_at"
    " FROM commands WHERE id = %s FOR UPDATE"
)
_LOCK_APPLICATION = (
    "SELECT id, organisation_id, vacancy_id, applicant_id, status, status_before,"
    " application_text, screening_answers, cv_document_id, rejection_type,"
    " rejection_reason_id, rejection_note, transferred_from_id, deleted_at, version,"
    " created_at, updated_at FROM applications"
    " WHERE id = %s AND organisation_id = %s FOR UPDATE"
)
_UPDATE_APPLICATION = (
    "UPDATE applications SET status = %s, status_before = %s, version = version + 1,"
    " updated_at = %s WHERE id = %s"
)
_INSERT_EVENT = (
    "INSERT INTO application_events (id, organisation_id, application_id, command_id,"
    " event_type, actor, from_status, to_status, reason, note, occurred_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_INSERT_OUTBOX = (
    "INSERT INTO outbox (id, organisation_id, kind, destination, actor_name, payload,"
    " created_at, attempts) VALUES (%s, %s, 'event', %s, NULL, %s, %s, 0)"
)
_CANCEL_MAIL = (
    "UPDATE scheduled_jobs SET status = 'cancelled', cancelled_at = %s"
    " WHERE application_id = %s AND organisation_id = %s AND status = 'pending'"
)
_CANCEL_INTERVIEWS = (
    "UPDATE interviews SET status = 'cancelled', cancelled_at = %s WHERE application_id = %s"
    " AND organisation_id = %s AND status = 'scheduled' AND starts_at > %s"
)
_UPDATE_COMMAND = "UPDATE commands SET status = %s, completed_at = %s WHERE id = %s"


def _raw_transaction(
    connection: psycopg.Connection[Any],
    batch: Batch,
    application_id: uuid.UUID,
    command_id: uuid.UUID,
    full: bool,
) -> None:
    now = datetime.now(UTC)
    if connection.execute(_INBOX, (CONSUMER, str(command_id), now)).fetchone() is None:
        raise BenchError(f"raw: command {command_id} was handled before")
    if full:
        connection.execute(_LOCK_COMMAND, (command_id,)).fetchone()
    row = connection.execute(_LOCK_APPLICATION, (application_id, batch.organisation_id)).fetchone()
    if row is None:
        raise BenchError(f"raw: application {application_id} not found")
    before = row[4]
    connection.execute(_UPDATE_APPLICATION, ("withdrawn", before, now, application_id))
    connection.execute(
        _INSERT_EVENT,
        (
            new_id(), batch.organisation_id, application_id, command_id,
            "application.withdrawn", "recruiter-1", before, "withdrawn", None, None, now,
        ),
    )  # fmt: skip
    if full:
        changed = {
            "event_id": str(new_id()),
            "occurred_at": now.isoformat(),
            "organisation_id": str(batch.organisation_id),
            "event": "application.status_changed",
            "application_id": str(application_id),
            "vacancy_id": str(batch.vacancy_id),
            "command_id": str(command_id),
            "from_status": before,
            "to_status": "withdrawn",
            "version": int(row[14]) + 1,
        }
        connection.execute(
            _INSERT_OUTBOX,
            (
                changed["event_id"], batch.organisation_id, "application.status_changed",
                json.dumps(changed), now,
            ),
        )  # fmt: skip
        org = batch.organisation_id
        connection.execute(_CANCEL_MAIL, (now, application_id, org))
        connection.execute(_CANCEL_INTERVIEWS, (now, application_id, org, now))
        connection.execute(_UPDATE_COMMAND, ("succeeded", now, command_id))
        completed = {
            "event_id": str(new_id()),
            "occurred_at": now.isoformat(),
            "organisation_id": str(batch.organisation_id),
            "event": "command.completed",
            "command_id": str(command_id),
            "idempotency_key": "bench-raw",
            "command_type": "withdraw_application",
            "status": "succeeded",
            "code": None,
            "message": None,
            "application_id": str(application_id),
        }
        connection.execute(
            _INSERT_OUTBOX,
            (
                completed["event_id"], batch.organisation_id, "command.completed",
                json.dumps(completed), now,
            ),
        )  # fmt: skip
    connection.commit()


def _backend_pid(connection: psycopg.Connection[Any]) -> int:
    row = connection.execute("SELECT pg_backend_pid()").fetchone()
    connection.commit()
    assert row is not None
    return int(row[0])


def raw_rate(url: str, batch: Batch, *, full: bool, threads: int = RAW_THREADS) -> RawResult:
    """``len(batch)`` transactions on ``threads`` threads, one connection each; the clock
    starts after the first ``WARM_UP`` of them."""
    items = list(zip(batch.application_ids, batch.command_ids, strict=True))
    warm_up, items = items[:WARM_UP], items[WARM_UP:]
    connections = [psycopg.connect(url) for _ in range(threads)]
    try:
        backends = {_backend_pid(c) for c in connections}
        cpu = CpuMeter(
            {
                "bench (8 threads)": lambda: [os.getpid()],
                "their PostgreSQL backends": lambda: sorted(backends),
                "rest of PostgreSQL": "postgres",
                "RabbitMQ": "beam.smp",
            }
        )
        started = [0.0]

        def start_clock() -> None:
            cpu.start()
            started[0] = time.perf_counter()

        # Every thread through its share of the warm-up: the clock starts, then they go on.
        warmed_up = threading.Barrier(threads, action=start_clock)
        deadline = time.monotonic() + PHASE_TIMEOUT_S
        done = [0] * threads
        errors: list[BaseException] = []

        def run(k: int) -> None:
            try:
                for application_id, command_id in warm_up[k::threads]:
                    _raw_transaction(connections[k], batch, application_id, command_id, full)
                warmed_up.wait(timeout=PHASE_TIMEOUT_S)
                for application_id, command_id in items[k::threads]:
                    if time.monotonic() > deadline:
                        return
                    _raw_transaction(connections[k], batch, application_id, command_id, full)
                    done[k] += 1
            except BaseException as exc:
                errors.append(exc)
                warmed_up.abort()  # the others stop waiting for this thread

        pool = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(timeout=PHASE_TIMEOUT_S + 10)
        seconds = time.perf_counter() - started[0]
        cpu.stop()
    finally:
        for c in connections:
            c.close()
    if errors:
        raise BenchError(f"raw transactions failed: {errors[0]!r}")
    if sum(done) != len(items):
        raise BenchError(f"raw: {sum(done)} of {len(items)} transactions in time")
    return RawResult(len(items), seconds, threads, full, cpu)


# -- py-spy samples --------------------------------------------------------------------

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")


@dataclass
class _Tally:
    samples: int = 0
    own: Counter[str] = field(default_factory=Counter)  # leaf function
    own_line: Counter[str] = field(default_factory=Counter)  # leaf file:line
    own_package: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)  # werving frames, file:line
    inclusive_function: Counter[str] = field(default_factory=Counter)  # any frame, by function


def _package(file: str) -> str:
    parts = file.split("/")
    if parts[0] in ("services", "shared", "bench"):
        return "werving (" + "/".join(parts[:2]) + ")"
    if parts[0].startswith("<frozen"):
        return "importlib"
    return parts[0].removesuffix(".py")


def _is_werving(function: str) -> bool:
    return function.rpartition("(")[2].split("/")[0] in ("services", "shared")


def profile_report(raw: str, top: int = 14) -> str:
    """Own-time and inclusive tables from py-spy's ``--format raw --gil`` output.

    With ``--gil`` py-spy records only the thread that holds the GIL, so the
    samples are the Python CPU time of each worker process, not its waiting.
    """
    tally = _Tally()
    imports = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [m for f in stack.split(";") if (m := _FRAME.match(f))]
        if not frames:
            continue
        count = int(count_text)
        if any(m["function"] == "_find_and_load" for m in frames):
            imports += count  # start-up, before the first message: not the worker's work
            continue
        tally.samples += count
        leaf = frames[-1]
        tally.own[f"{leaf['function']} ({leaf['file']})"] += count
        tally.own_line[f"{leaf['file']}:{leaf['line']} {leaf['function']}"] += count
        tally.own_package[_package(leaf["file"])] += count
        seen = set()
        for m in frames:
            function = f"{m['function']} ({m['file']})"
            if function not in seen:
                seen.add(function)
                tally.inclusive_function[function] += count
            if m["file"].split("/")[0] in ("services", "shared"):
                key = f"{m['file']}:{m['line']} {m['function']}"
                if key not in seen:
                    seen.add(key)
                    tally.inclusive[key] += count
    if not tally.samples:
        return "  (py-spy recorded no samples)\n"

    def table(title: str, counter: Counter[str], n: int = top) -> str:
        rows = "\n".join(
            f"    {count / tally.samples:6.1%}  {key}" for key, count in counter.most_common(n)
        )
        return f"  {title}:\n{rows}\n"

    return (
        f"  py-spy --gil, {tally.samples:,} samples of the thread holding the GIL, in all"
        f" worker processes ({imports:,} samples of imports at start-up left out):\n"
        + table("own time by package", tally.own_package, 10)
        + table("own time by function", tally.own)
        + table("inclusive, werving frames (file:line = the call in progress)", tally.inclusive)
        + table(
            "inclusive, library functions (under 80%: not the worker's run loop)",
            Counter(
                {
                    key: count
                    for key, count in tally.inclusive_function.items()
                    if count < 0.8 * tally.samples and not _is_werving(key)
                }
            ),
            18,
        )
        + table("own time by line", tally.own_line, 10)
    )


# -- the figure ------------------------------------------------------------------------


StatusRound: TypeAlias = Round[WorkerResult, RawResult]


@dataclass
class StatusFigures:
    rounds: list[StatusRound]
    raw_full: RawResult
    profiled: WorkerResult | None = None

    @property
    def median(self) -> StatusRound:
        return median_round(self.rounds)


def status_figures(
    url: str,
    n: int,
    setup: WorkerSetup,
    log_dir: Path,
    *,
    rounds: int,
    profile: Callable[[float], bool],
) -> StatusFigures:
    """Raw, then ``rounds`` times worker and raw again, then raw with the worker's full
    statement set; then, when ``profile(ratio)`` says so for the median round, the worker
    once more under py-spy. Every worker and raw figure has a batch of its own."""
    total = WARM_UP + n  # each figure's warm-up, then the n it times
    raw_batches = [stored_batch(url, total) for _ in range(rounds + 2)]
    raw = raw_rate(url, raw_batches[0], full=False)
    completed: list[StatusRound] = []
    for i in range(rounds):
        batch = accepted_batch(url, total)  # its outbox rows: the only ones to relay
        # Statistics for the rows just added, as autovacuum keeps them: statements are
        # planned once per connection (psycopg prepares them), for near-empty tables else.
        sql(url, "ANALYZE")
        publish_tasks(url, total)
        worker = worker_rate(url, batch, setup, log_dir)
        after = raw_rate(url, raw_batches[i + 1], full=False)
        completed.append(StatusRound(worker, raw, after))
        raw = after
    figures = StatusFigures(completed, raw_rate(url, raw_batches[-1], full=True))
    if profile(figures.median.ratio):
        if not py_spy_available():
            print("    (py-spy not found: `.venv/bin/pip install py-spy` for the worker's profile)")
            return figures
        profiled_batch = accepted_batch(url, total)
        publish_tasks(url, total)
        figures.profiled = worker_rate(url, profiled_batch, setup, log_dir, profile=True)
    return figures
