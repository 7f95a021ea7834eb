"""The whole system as real processes on the test session's PostgreSQL and RabbitMQ: the API,
the relay, the scheduler, the ingress and the three workers, each of which a test can kill
and start again."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from tests.processes import BIN, free_port, http_ready, kill, start, stop, werving


def dramatiq_worker(module: str, queue: str, threads: int = 2) -> list[str]:
    return [
        str(BIN / "dramatiq"),
        module,
        "--queues",
        queue,
        "--processes",
        "1",
        "--threads",
        str(threads),
    ]


COMMANDS: Final = {
    "relay": werving("relay"),
    "scheduler": werving("scheduler"),
    "ingress": werving("ingress"),
    "status_worker": dramatiq_worker("services.status_worker.actors", "status"),
    "mail_worker": dramatiq_worker("services.mail_worker.actors", "mail"),
    "document_worker": dramatiq_worker("services.document_worker.actors", "documents"),
}
EVERY_PROCESS: Final = ("api", *COMMANDS)


class System:
    """Processes by name (``api`` and those of ``COMMANDS``), logging to ``<name>.log``."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.api_url = ""

    def start(self, name: str) -> None:
        log_path = self.log(name)
        if name == "api":
            port = free_port()
            self.api_url = f"http://127.0.0.1:{port}"
            args = werving("api", "--port", str(port))
            ready = http_ready(f"{self.api_url}/healthz")
            self.processes[name] = start(args, env=self.env, log_path=log_path, ready=ready)
        else:
            self.processes[name] = start(COMMANDS[name], env=self.env, log_path=log_path)

    def kill(self, name: str) -> None:
        """``kill -9`` the process (its whole group)."""
        kill(self.processes[name])

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def exited(self) -> dict[str, int]:
        """The processes that are no longer running, with their exit codes."""
        return {
            name: code
            for name, process in self.processes.items()
            if (code := process.poll()) is not None
        }

    def stop(self) -> None:
        for process in self.processes.values():
            stop(process)


@contextmanager
def running_system(
    env: dict[str, str], log_dir: Path, names: Iterable[str] = EVERY_PROCESS
) -> Iterator[System]:
    system = System(env, log_dir)
    try:
        for name in names:
            system.start(name)
        yield system
    finally:
        system.stop()
