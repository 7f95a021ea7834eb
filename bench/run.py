"""Benchmarks on RabbitMQ and PostgreSQL on loopback, each beside the raw limit measured
in the same run: ``python bench/run.py [--quick]`` (``make bench``).

1. The outbox relay's publish rate with confirms, against raw pika pipelined confirms.
2. End to end: ``withdraw_application`` over HTTP until its status is committed,
   against the HTTP floor (GET /healthz through the same client).

Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and RabbitMQ on 127.0.0.1:5672
(guest); creates and drops a database ``werving_bench_<hex>`` and a queue
``werving.bench.events``, and purges the ``status`` queue.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if (
    str(ROOT) not in sys.path
):  # run as a script: make ``bench``, ``shared``, ``services`` importable
    sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    BenchError,
    declare_bench_queue,
    delete_bench_queue,
    fmt,
    percentile,
    scratch_database,
    server_versions,
)
from bench.end_to_end import Setup, end_to_end  # noqa: E402
from bench.publish import RawResult, RelayResult, raw_pipelined, relay_rate  # noqa: E402
from shared.logging import configure_logging  # noqa: E402

TARGET_RATIO = 0.30


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
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="cProfile the relay (auto: when a ratio is below the target)",
    )
    parser.add_argument("--skip", choices=["relay", "e2e"], action="append", default=[])
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
    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    setup = Setup(args.worker_processes, args.worker_threads, args.concurrency)

    configure_logging(level="WARNING")
    for name, port in (("PostgreSQL", 5432), ("RabbitMQ", 5672)):
        if not reachable("127.0.0.1", port):
            print(f"{name} is not reachable on 127.0.0.1:{port}", file=sys.stderr)
            return 2

    started = time.monotonic()
    try:
        with scratch_database() as url:
            versions = server_versions(url)
            print(
                f"machine: {machine()}; RabbitMQ {versions['rabbitmq']},"
                f" PostgreSQL {versions['postgresql']}"
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
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(f"(whole run {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
