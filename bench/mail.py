"""The mail worker's throughput, from a full ``mail`` queue to emails accepted by an SMTP
sink, beside raw aiosmtplib sending prebuilt messages to the same sink.

Sink: an aiosmtpd ``Controller`` in a subprocess of its own (own process group) on a
free loopback port, answering ``250`` to every message and appending one byte per
message to a file: the benchmark reads the file's size.

Raw: one ``aiosmtplib.SMTP`` connection, ``n`` prebuilt ``EmailMessage`` objects
(headers as ``composition.compose`` sets them, the built-in ``receipt`` template
rendered into a text and an html part), ``send_message`` in a loop.

Worker: ``WARM_UP`` + ``n`` applications seeded in the mail figure's own database, one
``ScheduledJob`` each (kind ``mail``, purpose ``receipt``, due now), the database
analysed, enqueued by the real scheduler (``enqueue_due_jobs``) and published to the
``mail`` queue by the real relay with no worker running. After a few seconds for
RabbitMQ to settle, the real worker (``dramatiq services.mail_worker.actors --queues
mail``) starts. As raw aiosmtplib sends 200 messages before its clock starts, the
worker's clock starts when the sink has counted the first ``WARM_UP`` (200) of its
messages, and runs until the sink has counted all of them and every ``outbound_emails``
row is ``sent`` (both polled every 20 ms): ``n`` emails in that time. The rate from the
first drop of the queue's ready count, warm-up included, is printed beside it.

Rounds: raw, then worker and raw again, ``rounds`` times (a fresh organisation and
``n`` jobs per worker figure); each worker figure is set against the mean of the raw
figures either side of it, and the round with the median ratio is the figure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime as rfc2822_date
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import TypeAlias

import aiosmtplib
import psycopg
from sqlalchemy import insert

from bench._common import (
    BIN,
    PHASE_TIMEOUT_S,
    WARM_UP,
    WORKER_POLL_S,
    WORKER_STARTUP_TIMEOUT_S,
    WORKER_TROUBLE,
    BenchError,
    CpuMeter,
    Process,
    Round,
    free_port,
    median_round,
    parent_pid,
    process_group,
    rabbitmq_url,
    sql,
    wait_first_drop,
    wait_until,
)
from bench.end_to_end import seed
from bench.queueing import publish_due_jobs
from bench.status_worker import profile_report, py_spy_available
from shared.db.database import Database
from shared.db.models import ScheduledJob
from shared.db.types import utcnow
from shared.emails.rendering import render_email
from shared.ids import new_id
from shared.messaging.routes import MAIL_QUEUE

SETTLE_S = 3.0
# The sink: one byte appended to argv[2] per message accepted; runs until SIGTERM.
SINK_SCRIPT = """
import signal, sys
from aiosmtpd.controller import Controller

class Counter:
    def __init__(self, path):
        self.out = open(path, "ab", buffering=0)

    async def handle_DATA(self, server, session, envelope):
        self.out.write(b".")
        return "250 OK"

controller = Controller(Counter(sys.argv[2]), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("sink ready", flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    signal.pause()
finally:
    controller.stop()
"""


@dataclass(frozen=True)
class MailSetup:
    processes: int = 2
    threads: int = 8
    log_level: str = "WARNING"


class Sink:
    """The aiosmtpd sink subprocess and its message counter (a file's size)."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.count_path = log_dir / "sink.count"
        self.count_path.write_bytes(b"")
        self.process = Process(
            "smtp_sink",
            [sys.executable, "-c", SINK_SCRIPT, str(self.port), str(self.count_path)],
            env={},
            log_dir=log_dir,
        )

    def count(self) -> int:
        return self.count_path.stat().st_size

    def wait_ready(self) -> None:
        def accepting() -> bool:
            self.process.check_alive()
            return "sink ready" in self.process.tail()

        wait_until(accepting, timeout_s=WORKER_STARTUP_TIMEOUT_S, what="the SMTP sink")

    def stop(self) -> None:
        self.process.stop()


@contextmanager
def smtp_sink(log_dir: Path) -> Iterator[Sink]:
    sink = Sink(log_dir)
    try:
        sink.wait_ready()
        yield sink
    finally:
        sink.stop()


# -- raw aiosmtplib --------------------------------------------------------------------


@dataclass
class RawResult:
    messages: int
    seconds: float
    size: int  # bytes of one message, as sent
    cpu: CpuMeter

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def prebuilt_messages(n: int) -> list[EmailMessage]:
    """``n`` receipts as ``composition.compose`` builds them, rendered once up front."""
    messages = []
    for i in range(n):
        rendered = render_email(
            "receipt",
            "nl",
            {
                "applicant_name": f"Applicant {i}",
                "applicant_first_name": "Applicant",
                "vacancy_title": "Bench nurse",
                "organisation_name": "Bench BV",
                "recruiter_name": "Bench BV",
            },
        )
        message = EmailMessage()
        message["From"] = formataddr(("Bench BV", "noreply@example.org"))
        message["To"] = formataddr((f"Applicant {i}", f"applicant-{i}@example.org"))
        message["Subject"] = rendered.subject
        message["Date"] = rfc2822_date(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain="example.org")
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        message["Content-Language"] = "nl"
        messages.append(message)
    return messages


async def _send_all(port: int, messages: list[EmailMessage]) -> float:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
    await client.connect()
    try:
        deadline = time.monotonic() + PHASE_TIMEOUT_S
        started = time.perf_counter()
        for message in messages:
            await client.send_message(message)
            if time.monotonic() > deadline:
                raise BenchError(f"raw aiosmtplib: not done in {PHASE_TIMEOUT_S:.0f} s")
        return time.perf_counter() - started
    finally:
        await client.quit()


def raw_rate(sink: Sink, messages: list[EmailMessage]) -> RawResult:
    before = sink.count()
    cpu = CpuMeter(
        {
            "bench (the client)": lambda: [os.getpid()],
            "SMTP sink": lambda: process_group(sink.process.popen.pid),
        }
    )
    cpu.start()
    seconds = asyncio.run(_send_all(sink.port, messages))
    cpu.stop()
    n = len(messages)
    wait_until(lambda: sink.count() - before >= n, timeout_s=10, what=f"{n} raw messages")
    return RawResult(n, seconds, len(messages[0].as_bytes()), cpu)


# -- set-up ----------------------------------------------------------------------------


def scheduled_receipts(url: str, n: int) -> uuid.UUID:
    """Seed ``n`` applications with a due ``receipt`` mail job each; the organisation id."""
    tenant = seed(url, n)
    db = Database(url, pool_size=1)
    now = utcnow()
    try:
        with db.transaction() as session:
            session.execute(
                insert(ScheduledJob),
                [
                    {
                        "id": new_id(),
                        "organisation_id": tenant.organisation_id,
                        "application_id": application_id,
                        "kind": "mail",
                        "purpose": "receipt",
                        "payload": {},
                        "due_at": now,
                        "status": "pending",
                        "created_at": now,
                    }
                    for application_id in tenant.applications
                ],
            )
    finally:
        db.dispose()
    # Statistics for the rows just added, as autovacuum keeps them in a database that
    # grew this way: the worker's statements are planned once per connection (psycopg
    # prepares them), and a plan made for near-empty tables joins the wrong way round.
    sql(url, "ANALYZE")
    return tenant.organisation_id


# -- the worker ------------------------------------------------------------------------


@dataclass
class WorkerResult:
    emails: int  # timed, after the warm-up
    seconds: float  # warm-up at the sink -> every email at the sink and every row sent
    sink_s: float  # warm-up at the sink -> every email at the sink
    cold_s: float  # first drop of the ready count -> every email sent, warm-up included
    cpu: CpuMeter  # from the end of the warm-up
    setup: MailSetup
    profile: str = ""

    @property
    def cold_rate(self) -> float:
        """Emails per second from the worker's start, its warm-up included."""
        return (self.emails + WARM_UP) / self.cold_s

    @property
    def rate(self) -> float:
        return self.emails / self.seconds


def _py_spy() -> str | None:
    found = BIN / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


@contextmanager
def _worker(
    url: str, sink: Sink, setup: MailSetup, log_dir: Path, profile_to: Path | None
) -> Iterator[Process]:
    env = {
        "WERVING_DATABASE_URL": url,
        "WERVING_BROKER_URL": rabbitmq_url(),
        "WERVING_SMTP_HOST": "127.0.0.1",
        "WERVING_SMTP_PORT": str(sink.port),
        "WERVING_LOG_LEVEL": setup.log_level,
    }
    args = [
        str(BIN / "dramatiq"), "services.mail_worker.actors", "--queues", MAIL_QUEUE,
        "--processes", str(setup.processes), "--threads", str(setup.threads),
    ]  # fmt: skip
    spy = _py_spy() if profile_to is not None else None
    if spy is not None and profile_to is not None:
        args = [
            spy, "record", "--subprocesses", "--gil", "--nonblocking", "--rate", "250",
            "--format", "raw", "--output", str(profile_to), "--", *args,
        ]  # fmt: skip
    process = Process("mail_worker", args, env=env, log_dir=log_dir)
    try:
        yield process
    finally:
        if spy is not None:  # the worker first, so that py-spy sees it exit and writes
            for child in process_group(process.popen.pid):
                if child != process.popen.pid and parent_pid(child) == process.popen.pid:
                    with suppress(ProcessLookupError):
                        os.kill(child, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=30)
        process.stop()


def _wait_sent(
    url: str,
    organisation_id: uuid.UUID,
    sink: Sink,
    base: int,
    n: int,
    process: Process,
    pids: set[int],
    warmed_up: Callable[[], None],
) -> tuple[float, float, float]:
    """Poll the sink and the email rows; perf_counter when the sink had ``WARM_UP``
    (then ``warmed_up()`` is called), when it had ``n``, and when every row was sent too."""
    deadline = time.monotonic() + PHASE_TIMEOUT_S
    next_log_check = time.monotonic() + 1.0
    warm: float | None = None
    sink_done: float | None = None
    counts: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            at_sink = sink.count() - base
            if warm is None and at_sink >= WARM_UP:
                warm = time.perf_counter()
                warmed_up()
            if sink_done is None and at_sink >= n:
                sink_done = time.perf_counter()
            rows = connection.execute(
                "SELECT state, count(*) FROM outbound_emails WHERE organisation_id = %s"
                " GROUP BY state",
                (organisation_id,),
            ).fetchall()
            now = time.perf_counter()
            counts = {str(state): int(count) for state, count in rows}
            if warm is not None and sink_done is not None and counts.get("sent", 0) >= n:
                return warm, sink_done, now
            if set(counts) - {"pending", "sending", "sent"}:
                raise BenchError(f"emails ended otherwise: {counts}\n{process.tail()}")
            for (pid,) in connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ).fetchall():
                pids.add(int(pid))
            if time.monotonic() > next_log_check:
                process.check_alive()
                sink.process.check_alive()
                if WORKER_TROUBLE.search(process.tail(20_000)):
                    raise BenchError(f"the worker reports failures:\n{process.tail()}")
                next_log_check = time.monotonic() + 1.0
            time.sleep(WORKER_POLL_S)
    raise BenchError(
        f"timed out after {PHASE_TIMEOUT_S:.0f} s: sink {sink.count() - base} of {n},"
        f" rows {counts}\n{process.tail()}"
    )


def worker_rate(
    url: str, sink: Sink, n: int, setup: MailSetup, log_dir: Path, *, profile: bool = False
) -> WorkerResult:
    """Seed and queue ``WARM_UP`` + ``n`` receipts, then time the real worker sending
    ``n`` of them, from the moment the sink has the first ``WARM_UP``."""
    total = WARM_UP + n
    organisation_id = scheduled_receipts(url, total)
    publish_due_jobs(url, total, MAIL_QUEUE)
    time.sleep(SETTLE_S)  # let RabbitMQ write the queue to disk and go quiet
    base = sink.count()
    pids: set[int] = set()
    profile_path = log_dir / "py-spy-mail.txt"
    with _worker(url, sink, setup, log_dir, profile_path if profile else None) as process:
        cpu = CpuMeter(
            {
                "worker": lambda: process_group(process.popen.pid),
                "its PostgreSQL backends": lambda: sorted(pids),
                "rest of PostgreSQL": "postgres",
                "RabbitMQ": "beam.smp",
                "SMTP sink": lambda: process_group(sink.process.popen.pid),
                "bench": lambda: [os.getpid()],
            }
        )
        started = wait_first_drop(MAIL_QUEUE, total, process)
        warm, sink_done, finished = _wait_sent(
            url, organisation_id, sink, base, total, process, pids, warmed_up=cpu.start
        )
        cpu.stop()
    report = ""
    if profile:
        report = (
            profile_report(profile_path.read_text())
            if profile_path.exists()
            else "  (no py-spy samples; the worker's log ends:)\n" + process.tail()
        )
    return WorkerResult(
        n, finished - warm, sink_done - warm, finished - started, cpu, setup, report
    )


# -- the figure ------------------------------------------------------------------------

MailRound: TypeAlias = Round[WorkerResult, RawResult]


@dataclass
class MailFigures:
    rounds: list[MailRound]
    profiled: WorkerResult | None = None

    @property
    def median(self) -> MailRound:
        return median_round(self.rounds)


def mail_figures(
    url: str,
    n: int,
    setup: MailSetup,
    log_dir: Path,
    *,
    rounds: int,
    profile: Callable[[float], bool],
) -> MailFigures:
    """Raw, then ``rounds`` times worker and raw again; then, when ``profile(ratio)`` says
    so for the median round, the worker once more under py-spy (a fresh organisation and
    ``n`` jobs each time, the same sink)."""
    messages = prebuilt_messages(n)
    with smtp_sink(log_dir) as sink:
        raw_rate(sink, messages[: min(n, WARM_UP)])  # warm the sink and the client; not counted
        raw = raw_rate(sink, messages)
        figures = MailFigures([])
        for _ in range(rounds):
            worker = worker_rate(url, sink, n, setup, log_dir)
            after = raw_rate(sink, messages)
            figures.rounds.append(MailRound(worker, raw, after))
            raw = after
        if profile(figures.median.ratio):
            if not py_spy_available():
                print("    (py-spy not found: `.venv/bin/pip install py-spy` for the profile)")
                return figures
            figures.profiled = worker_rate(url, sink, n, setup, log_dir, profile=True)
    return figures
