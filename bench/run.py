"""Benchmarks on RabbitMQ and PostgreSQL on loopback, each beside the raw limit measured
in the same run: ``python bench/run.py [--quick]`` (``make bench``).

1. The outbox relay's publish rate with confirms, against raw pika pipelined confirms.
2. End to end: ``withdraw_application`` over HTTP until its status is committed,
   against the HTTP floor (GET /healthz through the same client).
3. The status worker: ``withdraw_application`` tasks from a full ``status`` queue to
   committed, against raw psycopg running the same kind of transaction on 8 threads,
   and against Dramatiq draining a no-op actor with the same set-up.
4. The mail worker: receipts from a full ``mail`` queue to an aiosmtpd sink, against
   raw aiosmtplib sending prebuilt messages over one connection to the same sink.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and RabbitMQ on 127.0.0.1:5672
(guest); creates and drops databases ``werving_bench_<hex>``, and a RabbitMQ vhost
``werving_bench_<hex>`` with ``rabbitmqctl`` (else it uses the default vhost: it
then declares and deletes ``werving.bench.events`` and purges the ``status``,
``mail`` and ``bench_noop`` queues).
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if (
    str(ROOT) not in sys.path
):  # run as a script: make ``bench``, ``shared``, ``services`` importable
    sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    WARM_UP,
    BenchError,
    Round,
    bench_vhost,
    declare_bench_queue,
    delete_bench_queue,
    fmt,
    percentile,
    scratch_database,
    server_versions,
)
from bench.documents import DocumentSetup, document_figures  # noqa: E402
from bench.dramatiq_floor import dramatiq_floor  # noqa: E402
from bench.end_to_end import Setup, end_to_end  # noqa: E402
from bench.mail import MailSetup, mail_figures  # noqa: E402
from bench.mail import WorkerResult as MailResult  # noqa: E402
from bench.pdf_render import render_variants  # noqa: E402
from bench.publish import RawResult, RelayResult, raw_pipelined, relay_rate  # noqa: E402
from bench.status_worker import RawResult as StatusRaw  # noqa: E402
from bench.status_worker import WorkerResult, WorkerSetup, status_figures  # noqa: E402
from shared.logging import configure_logging  # noqa: E402

TARGET_RATIO = 0.30
STATUS_TARGET_RATIO = 0.40
MAIL_TARGET_RATIO = 0.70
DOCUMENT_TARGET_FACTOR = 1.2  # the worker's time per contract over bare WeasyPrint's


def machine() -> str:
    model = "?"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram_gib = 0.0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = int(line.split()[1]) / 1024 / 1024
    return (
        f"{os.cpu_count()} CPU ({model}), {ram_gib:.1f} GiB RAM, Python {platform.python_version()}"
    )


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def publish_figures(url: str, n: int, batch_sizes: list[int], profile: str) -> None:
    declare_bench_queue()
    try:
        raw_pipelined(min(n, 2000))  # warm the broker and the queue; not counted
        raws: list[RawResult] = [raw_pipelined(n)]
        relays: list[RelayResult] = []
        for batch_size in batch_sizes:
            relays.append(relay_rate(url, n, batch_size=batch_size, warm_up=2 * batch_size))
        raws.append(raw_pipelined(n))
        raw_rate = sum(r.rate for r in raws) / len(raws)
        spread = ", ".join(fmt(r.rate) for r in raws)
        print(
            f"raw pika pipelined confirms ({n:,} msgs, window {raws[0].window}):"
            f" {fmt(raw_rate)} msg/s (mean of runs before and after the relay: {spread})"
        )
        below = False
        for relay in relays:
            ratio = relay.rate / raw_rate
            below |= ratio < TARGET_RATIO
            print(
                f"relay publish (confirms, batch {relay.batch_size}): {fmt(relay.rate)} msg/s"
                f" | raw pika pipelined confirms: {fmt(raw_rate)} msg/s | ratio {ratio:.2f}"
                f" ({'meets' if ratio >= TARGET_RATIO else 'BELOW'} target {TARGET_RATIO:.2f})"
            )
            print(f"    per batch: {relay.breakdown()}")
        if profile == "always" or (profile == "auto" and below):
            batch_size = 500 if 500 in batch_sizes else batch_sizes[0]
            profiled = relay_rate(
                url, max(n // 4, batch_size), batch_size=batch_size, warm_up=500, profile=True
            )
            print(
                f"relay under cProfile (batch {batch_size}, {profiled.messages:,} msgs):"
                f" {fmt(profiled.rate)} msg/s"
            )
            print(profiled.profile)
    finally:
        delete_bench_queue()


def end_to_end_figure(url: str, n: int, setup: Setup, floor_requests: int) -> None:
    with tempfile.TemporaryDirectory(prefix="werving-bench-") as log_dir:
        result, floor = end_to_end(url, n, setup, Path(log_dir), floor_requests=floor_requests)
    label = "end-to-end withdraw"
    if not setup.notify_trigger:
        label += (
            " [experiment: outbox NOTIFY trigger dropped,"
            f" relay polls every {setup.relay_poll_interval_s * 1000:.0f} ms]"
            if setup.relay_poll_interval_s
            else " [experiment: outbox NOTIFY trigger dropped]"
        )
    print(
        f"{label}: {result.commands:,} commands in {result.seconds:.1f} s"
        f" = {fmt(result.rate)} cmd/s, p50 {fmt(result.latency(0.5))} ms,"
        f" p99 {fmt(result.latency(0.99))} ms"
        f" | HTTP floor /healthz: {fmt(floor.rate)} req/s"
    )
    print(
        "    legs p50 / p99: 202 -> task confirmed by RabbitMQ"
        f" {_p(result.relay_leg_ms, 0.5)} / {_p(result.relay_leg_ms, 0.99)} ms;"
        f" confirmed -> completed_at {_p(result.worker_leg_ms, 0.5)} /"
        f" {_p(result.worker_leg_ms, 0.99)} ms"
    )
    print(
        f"    HTTP accept alone: {fmt(result.accept_rate)} POST/s"
        f" (202 round trip p50 {result.accept_latency(0.5):.0f} ms,"
        f" p99 {result.accept_latency(0.99):.0f} ms); max latency"
        f" {fmt(result.latency(1.0))} ms; client concurrency {setup.concurrency};"
        f" status worker {setup.worker_processes} process(es) x {setup.worker_threads} threads"
    )


def _median_of(rounds: Sequence[Round[Any, Any]]) -> str:
    return f", the median of {len(rounds)} rounds" if len(rounds) > 1 else ""


def _print_rounds(rounds: Sequence[Round[Any, Any]]) -> None:
    if len(rounds) > 1:
        each = "; ".join(
            f"{fmt(r.worker.rate)} / {fmt(r.raw_rate)} = {r.ratio:.2f}" for r in rounds
        )
        print(f"    each round, worker / raw (mean of the raw runs either side): {each}")


def status_worker_figure(n: int, setup: WorkerSetup, rounds: int, profile: str) -> None:
    def wants_profile(ratio: float) -> bool:
        return profile == "always" or (profile == "auto" and ratio < STATUS_TARGET_RATIO)

    with (
        scratch_database() as url,
        tempfile.TemporaryDirectory(prefix="werving-bench-") as log_dir,
    ):
        figures = status_figures(url, n, setup, Path(log_dir), rounds=rounds, profile=wants_profile)
        floor = dramatiq_floor(n, setup.processes, setup.threads, Path(log_dir))
    median = figures.median
    worker, raw, ratio = median.worker, median.raw_rate, median.ratio
    verdict = "meets" if ratio >= STATUS_TARGET_RATIO else "BELOW"
    print(
        f"status worker ({setup.processes} processes x {setup.threads} threads):"
        f" {worker.commands:,} withdraw_application (after {WARM_UP} untimed)"
        f" in {worker.seconds:.2f} s"
        f" = {fmt(worker.rate)} cmd/s | raw psycopg ({median.raw_before.threads} threads):"
        f" {fmt(raw)} tx/s | ratio {ratio:.2f} ({verdict} target {STATUS_TARGET_RATIO:.2f})"
        + _median_of(figures.rounds)
    )
    _print_rounds(figures.rounds)
    full = figures.raw_full
    print(
        f"    raw, 4 statements + COMMIT: {fmt(median.raw_before.rate)} /"
        f" {fmt(median.raw_after.rate)} tx/s (before / after the worker);"
        f" raw with the withdraw handler's statement set (+ lock and update the command row,"
        f" cancel mail jobs and interviews, two outbox inserts and their NOTIFY trigger):"
        f" {fmt(full.rate)} tx/s"
        f" (worker / that: {worker.rate / full.rate:.2f})"
    )
    print(
        f"    worker: first drop -> first commit {worker.to_first_commit_s:.2f} s; from the"
        f" first drop, its {WARM_UP} warm-up commands included: {fmt(worker.cold_rate)} cmd/s"
    )
    _cpu_line("worker, CPU ms per command", worker)
    _cpu_line("raw 4 statements, CPU ms per tx", median.raw_after)
    _cpu_line("raw full set, CPU ms per tx", full)
    print(f"    the worker's PostgreSQL connections, sampled every 20 ms: {worker.states()}")
    print(
        f"    Dramatiq's floor, a no-op actor on the same broker, middleware and"
        f" {floor.processes} processes x {floor.threads} threads: {fmt(floor.rate)} msg/s"
        f" (worker / that: {worker.rate / floor.rate:.2f});"
        f" CPU ms per message: {floor.cpu.per_unit_ms(floor.messages)}"
    )
    # Both figures saturate the same 2 CPUs, so their machine time per unit adds up.
    ceiling = 1 / (1 / full.rate + 1 / floor.rate)
    print(
        f"    ceiling for this transaction: raw full set plus Dramatiq's floor, machine time"
        f" per command added = {fmt(ceiling)} cmd/s, ratio {ceiling / raw:.2f}"
        f" (worker / ceiling: {worker.rate / ceiling:.2f})"
    )
    measured = {
        "the worker": worker.cpu,
        "raw before": median.raw_before.cpu,
        "raw after": median.raw_after.cpu,
        "raw full set": full.cpu,
    }
    disturbed = [name for name, cpu in measured.items() if cpu.others_share > 0.10]
    if disturbed:
        print(
            "    WARNING: other processes (or ones that ended meanwhile: 'unattributed')"
            " used more than 10% of the CPU time during"
            f" {', '.join(disturbed)}: those figures are low; run again on a quiet machine"
        )
    if figures.profiled is not None:
        profiled = figures.profiled
        print(
            "status worker under py-spy (--gil, 250 Hz, non-blocking):"
            f" {profiled.commands:,} commands in {profiled.seconds:.2f} s"
            f" = {fmt(profiled.rate)} cmd/s"
        )
        print(profiled.profile)


def mail_figure(n: int, setup: MailSetup, rounds: int, profile: str) -> None:
    def wants_profile(ratio: float) -> bool:
        return profile == "always" or (profile == "auto" and ratio < MAIL_TARGET_RATIO)

    with (
        scratch_database() as url,
        tempfile.TemporaryDirectory(prefix="werving-bench-") as log_dir,
    ):
        figures = mail_figures(url, n, setup, Path(log_dir), rounds=rounds, profile=wants_profile)
    median = figures.median
    worker, raw, ratio = median.worker, median.raw_rate, median.ratio
    verdict = "meets" if ratio >= MAIL_TARGET_RATIO else "BELOW"
    print(
        f"mail worker ({setup.processes} processes x {setup.threads} threads):"
        f" {worker.emails:,} receipts (after {WARM_UP} untimed) queue -> aiosmtpd sink"
        f" in {worker.seconds:.2f} s"
        f" = {fmt(worker.rate)} emails/s | raw aiosmtplib (one connection):"
        f" {fmt(raw)} msgs/s | ratio {ratio:.2f} ({verdict} target {MAIL_TARGET_RATIO:.2f})"
        + _median_of(figures.rounds)
    )
    _print_rounds(figures.rounds)
    print(
        f"    raw: {fmt(median.raw_before.rate)} / {fmt(median.raw_after.rate)} msgs/s (before"
        f" / after the worker), {median.raw_before.size:,} bytes per message; worker, from"
        f" its warm-up at the sink -> {n:,} more at the sink {worker.sink_s:.2f} s, -> every"
        f" row sent {worker.seconds:.2f} s; from the first drop, warm-up included:"
        f" {fmt(worker.cold_rate)} emails/s"
    )
    _cpu_line("worker, CPU ms per email", worker)
    raw_cpu = median.raw_after.cpu
    print(
        f"    raw, CPU ms per message: {raw_cpu.per_unit_ms(median.raw_after.messages)};"
        f" machine busy {raw_cpu.machine_busy:.0%} of {os.cpu_count()} CPUs"
    )
    if worker.cpu.others_share > 0.10:
        print(
            "    WARNING: other processes (or ones that ended meanwhile: 'unattributed')"
            " used more than 10% of the CPU time during the worker: its figure is low;"
            " run again on a quiet machine"
        )
    if figures.profiled is not None:
        profiled = figures.profiled
        print(
            "mail worker under py-spy (--gil, 250 Hz, non-blocking):"
            f" {profiled.emails:,} emails in {profiled.seconds:.2f} s"
            f" = {fmt(profiled.rate)} emails/s"
        )
        _cpu_line("profiled worker, CPU ms per email", profiled)
        print(profiled.profile)


def document_figure(n: int, setup: DocumentSetup, bare_renders: int) -> None:
    with (
        scratch_database() as url,
        tempfile.TemporaryDirectory(prefix="werving-bench-") as log_dir,
    ):
        figures = document_figures(url, n, setup, Path(log_dir), bare_renders=bare_renders)
    worker, factor, bare_ms = figures.worker, figures.factor, figures.bare_ms
    verdict = "meets" if factor <= DOCUMENT_TARGET_FACTOR else "ABOVE"
    print(
        f"document worker ({setup.processes} process(es) x {setup.threads} thread(s)):"
        f" {worker.contracts:,} contracts queue -> stored in {worker.seconds:.2f} s"
        f" = {worker.rate:.1f} contracts/s, {worker.ms_per_contract:.0f} ms per contract"
        f" | bare WeasyPrint, same HTML, defaults: {bare_ms:.0f} ms mean"
        f" ({1000 / bare_ms:.1f} docs/s; {figures.bare_before[0].mean_ms:.0f} /"
        f" {figures.bare_after[0].mean_ms:.0f} ms before / after the worker)"
        f" | factor {factor:.2f} ({verdict} target {DOCUMENT_TARGET_FACTOR:.2f})"
    )
    job, render = sorted(worker.job_ms), sorted(worker.render_ms)
    if job and render:
        print(
            f"    per contract in the worker: job (compose, render, store, record) median"
            f" {percentile(job, 0.5):.0f} ms, p95 {percentile(job, 0.95):.0f} ms;"
            f" the render in its child median {percentile(render, 0.5):.0f} ms,"
            f" p95 {percentile(render, 0.95):.0f} ms"
        )
    for when, results in (("before", figures.bare_before), ("after", figures.bare_after)):
        for result in results:
            print(
                f"    bare WeasyPrint ({result.label}), {when} the worker, {len(result.ms)}"
                f" renders after a warm-up: median {result.median_ms:.0f} ms,"
                f" p95 {result.p95_ms:.0f} ms; {result.pages} page(s), {result.size:,} bytes"
            )
    peaks = ", ".join(f"{kind} {mb:.0f} MB" for kind, mb in sorted(worker.peak_rss_mb.items()))
    print(f"    peak RSS per worker process (VmHWM): {peaks}")
    cpu = worker.cpu
    print(
        f"    worker, CPU ms per contract: {cpu.per_unit_ms(worker.contracts)};"
        f" machine busy {cpu.machine_busy:.0%} of {os.cpu_count()} CPUs"
    )
    print(
        f"render variants (bench/pdf_render.py), the Dutch contract, {bare_renders} renders each:"
    )
    for variant in render_variants(bare_renders):
        print(
            f"    {variant.label:58} median {variant.median_ms:6.1f} ms,"
            f" mean {variant.mean_ms:6.1f} ms, {variant.size:>8,} bytes"
        )


def _cpu_line(title: str, result: WorkerResult | StatusRaw | MailResult) -> None:
    if isinstance(result, WorkerResult):
        units = result.commands
    elif isinstance(result, MailResult):
        units = result.emails
    else:
        units = result.transactions
    cpu = result.cpu
    print(
        f"    {title}: {cpu.per_unit_ms(units)};"
        f" machine busy {cpu.machine_busy:.0%} of {os.cpu_count()} CPUs"
        f" (hypervisor steal {cpu.machine_steal:.0%})"
    )


def _p(sorted_ms: list[float], fraction: float) -> str:
    return fmt(percentile(sorted_ms, fraction))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small N: a smoke run")
    parser.add_argument("--messages", type=int, help="relay/raw messages (20,000; quick 2,000)")
    parser.add_argument("--commands", type=int, help="end-to-end commands (2,000; quick 200)")
    parser.add_argument("--batch-sizes", default="200,500,1000", help="relay batch sizes")
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--worker-threads", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8, help="HTTP client threads")
    parser.add_argument(
        "--status-commands", type=int, help="status worker commands (2,000; quick 200)"
    )
    parser.add_argument("--status-worker-processes", type=int, default=2)
    parser.add_argument("--status-worker-threads", type=int, default=8)
    parser.add_argument(
        "--status-rounds", type=int, help="worker figures, each between two raw ones (3; quick 1)"
    )
    parser.add_argument(
        "--status-worker-log-level", default="WARNING", help="the status worker's WERVING_LOG_LEVEL"
    )
    parser.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="cProfile the relay, py-spy the status and mail workers (auto: when a ratio is below"
        " its target; the workers' profiles need py-spy: .venv/bin/pip install py-spy)",
    )
    parser.add_argument("--mail-count", type=int, help="mail worker emails (2,000; quick 200)")
    parser.add_argument("--mail-worker-processes", type=int, default=2)
    parser.add_argument("--mail-worker-threads", type=int, default=8)
    parser.add_argument(
        "--mail-rounds", type=int, help="worker figures, each between two raw ones (3; quick 1)"
    )
    parser.add_argument("--contracts", type=int, help="document worker contracts (200; quick 20)")
    parser.add_argument("--document-worker-processes", type=int, default=1)
    parser.add_argument("--document-worker-threads", type=int, default=1)
    parser.add_argument(
        "--bare-renders", type=int, help="bare WeasyPrint renders per variant (30; quick 5)"
    )
    parser.add_argument(
        "--skip",
        choices=["relay", "e2e", "status", "mail", "documents"],
        action="append",
        default=[],
    )
    parser.add_argument(
        "--without-notify-trigger",
        action="store_true",
        help="after the end-to-end figure, run it again with the outbox NOTIFY trigger dropped"
        " (the relay then polls every --relay-poll-ms): what the trigger's commit lock costs",
    )
    parser.add_argument("--relay-poll-ms", type=float, default=20.0)
    args = parser.parse_args()
    messages = args.messages or (2_000 if args.quick else 20_000)
    commands = args.commands or (200 if args.quick else 2_000)
    status_commands = args.status_commands or (200 if args.quick else 2_000)
    status_rounds = args.status_rounds or (1 if args.quick else 3)
    mail_count = args.mail_count or (200 if args.quick else 2_000)
    mail_rounds = args.mail_rounds or (1 if args.quick else 3)
    contracts = args.contracts or (20 if args.quick else 200)
    bare_renders = args.bare_renders or (5 if args.quick else 30)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    setup = Setup(args.worker_processes, args.worker_threads, args.concurrency)

    configure_logging(level="WARNING")
    for name, port in (("PostgreSQL", 5432), ("RabbitMQ", 5672)):
        if not reachable("127.0.0.1", port):
            print(f"{name} is not reachable on 127.0.0.1:{port}", file=sys.stderr)
            return 2

    started = time.monotonic()
    try:
        with bench_vhost() as broker_url, scratch_database() as url:
            versions = server_versions(url)
            print(
                f"machine: {machine()}; RabbitMQ {versions['rabbitmq']},"
                f" PostgreSQL {versions['postgresql']}; vhost {broker_url.rsplit('/', 1)[1]}"
            )
            if "relay" not in args.skip:
                publish_figures(url, messages, batch_sizes, args.profile)
            if "e2e" not in args.skip:
                end_to_end_figure(url, commands, setup, floor_requests=commands)
                if args.without_notify_trigger:
                    polling = replace(
                        setup,
                        notify_trigger=False,
                        relay_poll_interval_s=args.relay_poll_ms / 1000,
                    )
                    end_to_end_figure(url, commands, polling, floor_requests=commands)
            if "status" not in args.skip:
                status_setup = WorkerSetup(
                    args.status_worker_processes,
                    args.status_worker_threads,
                    args.status_worker_log_level,
                )
                status_worker_figure(status_commands, status_setup, status_rounds, args.profile)
            if "mail" not in args.skip:
                mail_setup = MailSetup(
                    args.mail_worker_processes,
                    args.mail_worker_threads,
                    args.status_worker_log_level,
                )
                mail_figure(mail_count, mail_setup, mail_rounds, args.profile)
            if "documents" not in args.skip:
                document_setup = DocumentSetup(
                    args.document_worker_processes, args.document_worker_threads
                )
                document_figure(contracts, document_setup, bare_renders)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(f"(whole run {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
