"""The embedded mode: `werving dev` with no RabbitMQ or PostgreSQL settings at all."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port, http_ready, running, wait_until, werving


def test_werving_dev_runs_the_commands_mail_and_documents_over_http(tmp_path: Path) -> None:
    # Given `werving dev` started with no WERVING_ settings, in an empty directory
    port, smtp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WERVING_")}
    log = tmp_path / "dev.log"
    base = f"http://127.0.0.1:{port}"
    args = werving(
        "dev",
        "--port",
        str(port),
        "--smtp-port",
        str(smtp_port),
        "--var-dir",
        str(tmp_path / "var"),
    )
    with running(args, env=env, log_path=log, ready=http_ready(f"{base}/readyz")):
        # Then it prints the docs URL, a demo API key and an open vacancy
        wait_until(lambda: "open vacancy id" in log.read_text(), what="the banner")
        banner = log.read_text()
        assert f"{base}/docs" in banner
        key = re.search(r"demo API key:\s+(\S+)", banner)
        vacancy = re.search(r"open vacancy id:\s+(\S+)", banner)
        assert key and vacancy
        headers = {"Authorization": f"Bearer {key.group(1)}"}
        # When an application is registered and withdrawn over HTTP
        registered = httpx.post(
            f"{base}/v1/commands",
            json={
                "type": "register_application",
                "vacancy_id": vacancy.group(1),
                "applicant": {"name": "Ann de Vries", "email": "ann@example.org"},
                "send_receipt": True,
            },
            headers={**headers, "Idempotency-Key": "smoke-register"},
        ).json()
        _wait_for_outcome(base, headers, registered["location"])
        letter = httpx.post(
            f"{base}/v1/commands",
            json={
                "type": "send_letter",
                "application_id": registered["application_id"],
                "letter": "received",
                "channel": "print",
            },
            headers={**headers, "Idempotency-Key": "smoke-letter"},
        ).json()
        _wait_for_outcome(base, headers, letter["location"])
        documents = f"{base}/v1/applications/{registered['application_id']}/documents"
        wait_until(
            lambda: bool(httpx.get(documents, headers=headers).json()["items"]),
            timeout_s=60,
            what="the printed letter",
        )
        [document] = httpx.get(documents, headers=headers).json()["items"]
        pdf = httpx.get(base + document["download"], headers=headers).content
        mail_dir = tmp_path / "var" / "mail"
        wait_until(lambda: any(mail_dir.glob("*")), timeout_s=30, what="the receipt in the sink")
        withdrawn = httpx.post(
            f"{base}/v1/commands",
            json={"type": "withdraw_application", "application_id": registered["application_id"]},
            headers={**headers, "Idempotency-Key": "smoke-withdraw"},
        ).json()
        outcome = _wait_for_outcome(base, headers, withdrawn["location"])
        # Then both succeed and the application is withdrawn, on SQLite under the var dir
        application = httpx.get(
            f"{base}/v1/applications/{registered['application_id']}", headers=headers
        ).json()
    assert outcome == "succeeded"
    assert application["status"] == "withdrawn"
    assert [h["to_status"] for h in application["history"]] == ["received", "received", "withdrawn"]
    assert (tmp_path / "var" / "werving.db").exists()
    # And the receipt went to the local sink, the letter is a PDF under the var dir
    assert pdf.startswith(b"%PDF-") and document["purpose"] == "letter_received"
    assert list((tmp_path / "var" / "documents").rglob("*.pdf"))


def _wait_for_outcome(base: str, headers: dict[str, str], location: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = str(httpx.get(base + location, headers=headers).json()["status"])
        if status != "accepted":
            return status
        time.sleep(0.1)
    raise TimeoutError(location)


@pytest.mark.parametrize("option", ["--port", "--smtp-port"])
def test_a_busy_port_stops_werving_dev_with_one_sentence_naming_it_and_the_option(
    tmp_path: Path, option: str
) -> None:
    # Given another program listening on the port werving dev is asked to use
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        busy = other.getsockname()[1]
        ports = {"--port": str(free_port()), "--smtp-port": str(free_port()), option: str(busy)}
        env = {k: v for k, v in os.environ.items() if not k.startswith("WERVING_")}
        # When werving dev starts
        done = subprocess.run(
            werving(
                "dev", *(a for item in ports.items() for a in item), "--var-dir", str(tmp_path)
            ),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    # Then it stops at once with one line naming the port and the option, no traceback
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"werving dev: port {busy} on 127.0.0.1 is in use by another program;"
        f" choose another with {option} <port>"
    ]
    assert not (tmp_path / "werving.db").exists()
