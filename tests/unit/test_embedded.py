"""The embedded mode: `werving dev` with no RabbitMQ or PostgreSQL settings at all."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx

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
