"""document_worker's contracts, from a full ``documents`` queue to stored PDFs, beside bare
WeasyPrint rendering the same HTML in one process.

Worker: ``n`` applications seeded in status ``offered``; for each, a
``send_employment_contract`` command accepted through ``acceptance.accept_command`` and
carried out by the status handler in process (which schedules the document job), then
enqueued by the real scheduler and published to the ``documents`` queue by the real
relay with no worker running. After a few seconds for RabbitMQ to settle, the real
worker (``dramatiq services.document_worker.actors --queues documents``, by default 1
process x 1 thread, so that its time per contract compares with one bare render at a
time) starts; the clock runs from the first drop of the queue's ready count until
``n`` document rows exist (both polled every 20 ms). The time includes starting the
worker's sandboxed render process (once per worker thread). Per contract, the worker's
``document.stored`` log events give the job's own time (compose, render in the child,
store, record); peak RSS (``VmHWM``) is read from every process of the worker before it
stops.

Bare WeasyPrint: the document the worker renders for the first of those contracts
(composed by ``document_worker.composition.compose``, its stylesheet put inside the HTML),
``HTML(string=html).write_pdf()`` with the defaults, ``k`` times in the bench process after
one warm-up render; then the same with the worker's options (PDF/A-3b, the locked-down URL
fetcher, title and language) but without its caches (one font configuration for the
child's life, the page stylesheet parsed once). Both before and after the worker's
figure: the machine's speed drifts, and the worker is set against the mean of the two.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import psycopg
from pypdf import PdfReader
from sqlalchemy import select, update

from bench._common import (
    BIN,
    PHASE_TIMEOUT_S,
    WORKER_POLL_S,
    WORKER_TROUBLE,
    BenchError,
    CpuMeter,
    Process,
    percentile,
    process_group,
    rabbitmq_url,
    wait_first_drop,
)
from bench.end_to_end import seed
from bench.queueing import accept_all, publish_due_jobs
from services.document_worker.composition import compose
from services.document_worker.fetcher import LockedFetcher
from services.document_worker.layout import standalone
from services.document_worker.pdf import PDF_VARIANT
from services.status_worker.handlers import HANDLERS
from services.status_worker.unit_of_work import run_command
from shared.commands import SendEmploymentContract
from shared.commands.fields import Money
from shared.db.database import Database
from shared.db.models import Application, OutboxMessage, ScheduledJob
from shared.messaging.routes import DOCUMENTS_QUEUE, STATUS_QUEUE

SETTLE_S = 3.0


@dataclass(frozen=True)
class DocumentSetup:
    processes: int = 1
    threads: int = 1


@dataclass
class WorkerResult:
    contracts: int
    seconds: float  # first drop of the ready count -> n document rows
    job_ms: list[float]  # per contract, from the worker's document.stored events
    render_ms: list[float]  # per contract, the render in the child (pdf.rendered)
    peak_rss_mb: dict[str, float]  # the highest VmHWM of each kind of worker process
    cpu: CpuMeter
    setup: DocumentSetup

    @property
    def rate(self) -> float:
        return self.contracts / self.seconds

    @property
    def ms_per_contract(self) -> float:
        return self.seconds * 1000 / self.contracts


@dataclass
class BareResult:
    label: str
    ms: list[float]
    pages: int
    size: int

    @property
    def median_ms(self) -> float:
        return statistics.median(self.ms)

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.ms)

    @property
    def p95_ms(self) -> float:
        return percentile(sorted(self.ms), 0.95)


# -- set-up ----------------------------------------------------------------------------


def _contract(i: int, application_id: uuid.UUID) -> SendEmploymentContract:
    """Some variety: fixed-term or not, holidays, notice, extra terms."""
    start = date(2027, 1, 1) + timedelta(days=i % 90)
    return SendEmploymentContract(
        application_id=application_id,
        job_title="Verpleegkundige acute zorg",
        salary=Money(amount=Decimal("3200.00") + i % 40 * 25, currency="EUR", period="month"),
        hours_per_week=Decimal(32 + i % 9),
        start_date=start,
        end_date=start + timedelta(days=365) if i % 2 else None,
        probation_months=1 + i % 2,
        place_of_work="Utrecht",
        holiday_days=25,
        notice_period_months=1 if i % 3 else None,
        extra_terms="Reiskosten volgens de cao.\nThuiswerken in overleg." if i % 4 == 0 else None,
        actor=f"recruiter-{i % 5}",
    )


def contract_jobs(url: str, n: int) -> uuid.UUID:
    """Seed ``n`` offered applications with a contract job each; the organisation id."""
    tenant = seed(url, n)
    db = Database(url, pool_size=2)
    handler = HANDLERS["send_employment_contract"]
    try:
        with db.transaction() as session:
            session.execute(
                update(Application)
                .where(Application.organisation_id == tenant.organisation_id)
                .values(status="offered")
            )
        commands = (
            (f"bench-contract-{i}", _contract(i, application_id))
            for i, application_id in enumerate(tenant.applications)
        )
        for command_id in accept_all(db, tenant.organisation_id, commands):
            message = {
                "command_id": str(command_id),
                "organisation_id": str(tenant.organisation_id),
            }
            run_command(db, message, handler)
        with db.transaction() as session:
            # The status tasks were carried out above: the relay need not publish them.
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.destination == STATUS_QUEUE)
                .values(published_at=OutboxMessage.created_at)
            )
            jobs = session.scalar(
                select(ScheduledJob.id)
                .where(ScheduledJob.organisation_id == tenant.organisation_id)
                .limit(1)
            )
        if jobs is None:
            raise BenchError("the status handler scheduled no document job")
    finally:
        db.dispose()
    return tenant.organisation_id


def first_contract_html(url: str, organisation_id: uuid.UUID) -> tuple[str, Any]:
    """The document the worker renders for one of the seeded contracts, as one HTML file
    with its stylesheet inside (and what the worker composed)."""
    db = Database(url, pool_size=1)
    try:
        with db.transaction() as session:
            job = session.scalars(
                select(ScheduledJob)
                .where(
                    ScheduledJob.organisation_id == organisation_id,
                    ScheduledJob.kind == "document",
                )
                .limit(1)
            ).one()
            composed = compose(session, job)
    finally:
        db.dispose()
    return standalone(composed.html, composed.stylesheet), composed


# -- bare WeasyPrint -------------------------------------------------------------------


def bare_weasyprint(html: str, composed: Any, k: int) -> list[BareResult]:
    """``k`` renders of ``html`` with WeasyPrint's defaults, then with the worker's options
    (PDF/A-3b, the locked-down fetcher) but none of its caches."""
    from weasyprint import HTML

    def defaults() -> bytes:
        data: bytes = HTML(string=html).write_pdf()
        return data

    def with_options() -> bytes:
        fetcher = LockedFetcher(composed.assets)
        document = HTML(string=html, url_fetcher=fetcher).render(pdf_variant=PDF_VARIANT)
        document.metadata.title = composed.title
        document.metadata.lang = composed.locale
        data: bytes = document.write_pdf(pdf_variant=PDF_VARIANT)
        return data

    results = []
    for label, render in (("defaults", defaults), ("PDF/A-3b + fetcher", with_options)):
        data = render()  # warm-up: fonts, imports
        timings = []
        for _ in range(k):
            started = time.perf_counter()
            data = render()
            timings.append((time.perf_counter() - started) * 1000)
        pages = len(PdfReader(BytesIO(data)).pages)
        results.append(BareResult(label, timings, pages, len(data)))
    return results


# -- the worker ------------------------------------------------------------------------


@contextmanager
def _worker(url: str, setup: DocumentSetup, log_dir: Path) -> Iterator[Process]:
    env = {
        "WERVING_DATABASE_URL": url,
        "WERVING_BROKER_URL": rabbitmq_url(),
        "WERVING_DOCUMENTS_DIR": str(log_dir / "documents"),
        "WERVING_LOG_FORMAT": "json",
        "WERVING_LOG_LEVEL": "INFO",  # document.stored carries each job's time
    }
    args = [
        str(BIN / "dramatiq"), "services.document_worker.actors", "--queues", DOCUMENTS_QUEUE,
        "--processes", str(setup.processes), "--threads", str(setup.threads),
    ]  # fmt: skip
    process = Process("document_worker", args, env=env, log_dir=log_dir)
    try:
        yield process
    finally:
        process.stop()


def _peak_rss_mb(pids: list[int]) -> dict[str, float]:
    """The highest peak RSS among the worker's processes of each kind."""
    peaks: dict[str, float] = {}
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        hwm = next(
            (line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")), "0"
        )
        if "multiprocessing" in cmdline:
            kind = "render child"
        elif "dramatiq" in cmdline and "--worker-shutdown-timeout" not in cmdline:
            kind = "dramatiq"
        else:
            kind = "other"
        peaks[kind] = max(peaks.get(kind, 0.0), int(hwm) / 1024)
    return peaks


def _log_values(log_path: Path, event: str, field: str) -> list[float]:
    values = []
    for line in log_path.read_text(errors="replace").splitlines():
        if f'"{event}"' not in line:
            continue
        try:
            values.append(float(json.loads(line)[field]))
        except (ValueError, KeyError, TypeError):
            continue
    return values


def worker_rate(
    url: str, organisation_id: uuid.UUID, n: int, setup: DocumentSetup, log_dir: Path
) -> WorkerResult:
    publish_due_jobs(url, n, DOCUMENTS_QUEUE)
    time.sleep(SETTLE_S)  # let RabbitMQ write the queue to disk and go quiet
    with _worker(url, setup, log_dir) as process:
        cpu = CpuMeter(
            {
                "worker": lambda: process_group(process.popen.pid),
                "PostgreSQL": "postgres",
                "RabbitMQ": "beam.smp",
                "bench": lambda: [os.getpid()],
            }
        )
        started = wait_first_drop(DOCUMENTS_QUEUE, n, process)
        cpu.start()
        finished = _wait_stored(url, organisation_id, n, process)
        cpu.stop()
        peaks = _peak_rss_mb(process_group(process.popen.pid))
    return WorkerResult(
        contracts=n,
        seconds=finished - started,
        job_ms=_log_values(process.log_path, "document.stored", "ms"),
        render_ms=_log_values(process.log_path, "pdf.rendered", "ms"),
        peak_rss_mb=peaks,
        cpu=cpu,
        setup=setup,
    )


def _wait_stored(url: str, organisation_id: uuid.UUID, n: int, process: Process) -> float:
    deadline = time.monotonic() + PHASE_TIMEOUT_S
    next_log_check = time.monotonic() + 1.0
    stored = 0
    with psycopg.connect(url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT count(*) FROM documents WHERE organisation_id = %s", (organisation_id,)
            ).fetchone()
            stored = int(row[0]) if row else 0
            if stored >= n:
                return time.perf_counter()
            if time.monotonic() > next_log_check:
                process.check_alive()
                if WORKER_TROUBLE.search(process.tail(20_000)):
                    raise BenchError(f"the worker reports failures:\n{process.tail()}")
                next_log_check = time.monotonic() + 1.0
            time.sleep(WORKER_POLL_S)
    raise BenchError(f"timed out: {stored} of {n} contracts stored\n{process.tail()}")


# -- the figure ------------------------------------------------------------------------


@dataclass
class DocumentFigures:
    worker: WorkerResult
    # bare_weasyprint's results (defaults, then the worker's options), before and after
    bare_before: list[BareResult]
    bare_after: list[BareResult]

    @property
    def bare_ms(self) -> float:
        """Bare WeasyPrint's mean time per render with the defaults, before and after."""
        return statistics.fmean((self.bare_before[0].mean_ms, self.bare_after[0].mean_ms))

    @property
    def factor(self) -> float:
        return self.worker.ms_per_contract / self.bare_ms


def document_figures(
    url: str, n: int, setup: DocumentSetup, log_dir: Path, *, bare_renders: int
) -> DocumentFigures:
    organisation_id = contract_jobs(url, n)
    html, composed = first_contract_html(url, organisation_id)
    before = bare_weasyprint(html, composed, bare_renders)
    worker = worker_rate(url, organisation_id, n, setup, log_dir)
    after = bare_weasyprint(html, composed, bare_renders)
    return DocumentFigures(worker, before, after)
