"""Dramatiq's own ceiling on this machine: a no-op actor draining a full queue.

The same broker (RabbitMQ, publisher confirms), middleware and actor options as the
workers, the same ``--processes``/``--threads``, and messages of the same shape as a
status task (a command id and an organisation id). The clock runs from the first drop
of the queue's ready count until the actor has run ``n`` times. No worker can go
faster than this; the status and mail figures are put beside it.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import dramatiq

from bench._common import (
    BIN,
    PHASE_TIMEOUT_S,
    WORKER_POLL_S,
    BenchError,
    CpuMeter,
    Process,
    process_group,
    queue_depth,
    rabbitmq_url,
    take_over_queue,
    wait_first_drop,
    wait_until,
)
from shared.messaging.broker import build_broker, declare_worker_queues
from shared.settings import Settings

SETTLE_S = 3.0
NOOP_QUEUE: Final = "bench_noop"
NOOP_ACTOR: Final = "bench_noop"  # bench/noop_worker.py


@dataclass
class FloorResult:
    messages: int
    seconds: float
    processes: int
    threads: int
    cpu: CpuMeter

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def _fill_queue(n: int) -> None:
    take_over_queue(NOOP_QUEUE)
    broker = build_broker(Settings(broker_url=rabbitmq_url()))
    try:
        declare_worker_queues(broker, [NOOP_QUEUE])
        organisation = str(uuid.uuid4())
        for _ in range(n):
            message = {"command_id": str(uuid.uuid4()), "organisation_id": organisation}
            broker.enqueue(dramatiq.Message(NOOP_QUEUE, NOOP_ACTOR, (message,), {}, {}))
    finally:
        broker.close()
    wait_until(
        lambda: queue_depth(NOOP_QUEUE)[0] >= n, timeout_s=30, what=f"{n} no-op messages queued"
    )


def dramatiq_floor(n: int, processes: int, threads: int, log_dir: Path) -> FloorResult:
    """Time ``dramatiq bench.noop_worker`` draining ``n`` queued messages."""
    _fill_queue(n)
    time.sleep(SETTLE_S)  # let RabbitMQ write the queue to disk and go quiet
    with tempfile.NamedTemporaryFile(prefix="werving-noop-", dir=log_dir) as tally:
        args = [
            str(BIN / "dramatiq"), "bench.noop_worker", "--queues", NOOP_QUEUE,
            "--processes", str(processes), "--threads", str(threads),
        ]  # fmt: skip
        env = {
            "WERVING_BROKER_URL": rabbitmq_url(),
            "WERVING_LOG_LEVEL": "WARNING",
            "WERVING_BENCH_TALLY": tally.name,
        }
        process = Process("noop_worker", args, env=env, log_dir=log_dir)
        try:
            cpu = CpuMeter(
                {"worker": lambda: process_group(process.popen.pid), "RabbitMQ": "beam.smp"}
            )
            started = wait_first_drop(NOOP_QUEUE, n, process)
            cpu.start()
            deadline = time.monotonic() + PHASE_TIMEOUT_S
            while Path(tally.name).stat().st_size < n:
                if time.monotonic() > deadline:
                    raise BenchError(f"the no-op worker timed out:\n{process.tail()}")
                process.check_alive()
                time.sleep(WORKER_POLL_S)
            finished = time.perf_counter()
            cpu.stop()
        finally:
            process.stop()
    return FloorResult(n, finished - started, processes, threads, cpu)
