"""Starting werving's real processes (API, relay, ingress, Dramatiq workers) for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.factories import new_key

BIN = Path(sys.executable).parent


def run_over_http(
    api_url: str, headers: dict[str, str], body: dict[str, object]
) -> dict[str, object]:
    """POST a command, wait for its outcome, and return it; it must have succeeded."""
    response = httpx.post(
        f"{api_url}/v1/commands", json=body, headers={**headers, "Idempotency-Key": new_key()}
    )
    assert response.status_code == 202, response.text
    location = api_url + response.json()["location"]
    wait_until(
        lambda: httpx.get(location, headers=headers).json()["status"] != "accepted",
        what=str(body["type"]),
    )
    outcome: dict[str, object] = httpx.get(location, headers=headers).json()
    assert outcome["status"] == "succeeded", outcome
    return outcome


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    condition: Callable[[], bool], *, timeout_s: float = 30, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")


@contextmanager
def running(
    args: list[str], *, env: dict[str, str], log_path: Path, ready: Callable[[], bool] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args`` as its own process group; stop it with SIGTERM (then SIGKILL) afterwards."""
    process = start(args, env=env, log_path=log_path, ready=ready)
    try:
        yield process
    finally:
        stop(process)


def start(
    args: list[str], *, env: dict[str, str], log_path: Path, ready: Callable[[], bool] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``args`` as its own process group, writing (appending) its output to
    ``log_path``; with ``ready``, wait until it says so."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            args,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if ready is not None:

        def _ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{args[0]} exited early: {log_path.read_text()[-3000:]}")
            return ready()

        try:
            wait_until(_ready, timeout_s=60, what=" ".join(args))
        except BaseException:
            stop(process)
            raise
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process group started here: SIGTERM, then SIGKILL after 15 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def kill(process: subprocess.Popen[bytes]) -> None:
    """``kill -9`` the whole process group (Dramatiq's main process and its workers)."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def http_ready(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def service_env(database_url: str, broker_url: str) -> dict[str, str]:
    return {
        "WERVING_DATABASE_URL": database_url,
        "WERVING_BROKER_URL": broker_url,
        "WERVING_LOG_FORMAT": "json",
    }


def werving(*args: str) -> list[str]:
    return [str(BIN / "werving"), *args]


def run_werving(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run one ``werving`` CLI command to its end, as an operator would."""
    return subprocess.run(
        werving(*args),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def status_worker(threads: int = 2, processes: int = 1) -> list[str]:
    return [
        str(BIN / "dramatiq"),
        "services.status_worker.actors",
        "--queues",
        "status",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
    ]
