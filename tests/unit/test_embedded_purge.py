"""The embedded mode leaves no copy of a purged applicant: not in the SQLite file or its
write-ahead log, the mail sink (files and /dev/mail), the document store or the log."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx

from tests.factories import new_key
from tests.processes import free_port, http_ready, run_over_http, running, wait_until, werving

# What only the canary applicant's data holds; each must be gone after the purge.
CANARIES = ("Kanarie Zangvogelaar", "kanarie.zang@example.org", "+31 6 5550 1234", "cv-kanarie")
CV = b"%PDF-1.4\n% Kanarie Zangvogelaar\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _traces(*places: Path) -> list[str]:
    """Each file under ``places`` that holds a canary, with the canary."""
    found = []
    for place in places:
        for path in [place] if place.is_file() else place.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                found += [f"{path.name}: {c}" for c in CANARIES if c.encode() in data]
    return found


def test_werving_dev_keeps_no_copy_of_a_purged_applicant(tmp_path: Path) -> None:
    # Given werving dev, and an applicant with a CV, a receipt and a printed letter
    port, smtp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WERVING_")}
    var, log = tmp_path / "var", tmp_path / "dev.log"
    base = f"http://127.0.0.1:{port}"
    args = werving("dev", "--port", str(port), "--smtp-port", str(smtp_port), "--var-dir", str(var))
    with running(args, env=env, log_path=log, ready=http_ready(f"{base}/readyz")):
        wait_until(lambda: "open vacancy id" in log.read_text(), what="the banner")
        banner = log.read_text()
        key = re.search(r"demo API key:\s+(\S+)", banner)
        vacancy = re.search(r"open vacancy id:\s+(\S+)", banner)
        assert key and vacancy
        headers = {"Authorization": f"Bearer {key.group(1)}"}
        cv = httpx.post(
            f"{base}/v1/documents",
            content=CV,
            headers={
                **headers,
                "Idempotency-Key": new_key(),
                "Content-Type": "application/pdf",
                "Content-Disposition": 'attachment; filename="cv-kanarie.pdf"',
            },
        )
        assert cv.status_code == 201, cv.text
        registered = run_over_http(
            base,
            headers,
            {
                "type": "register_application",
                "vacancy_id": vacancy.group(1),
                "applicant": {"name": CANARIES[0], "email": CANARIES[1], "phone": CANARIES[2]},
                "application_text": f"{CANARIES[0]} would love to join.",
                "cv_document_id": cv.json()["id"],
                "send_receipt": True,
            },
        )
        application = str(registered["application_id"])
        run_over_http(
            base,
            headers,
            {
                "type": "send_letter",
                "application_id": application,
                "letter": "received",
                "channel": "print",
            },
        )
        documents = f"{base}/v1/applications/{application}/documents"
        wait_until(
            lambda: len(httpx.get(documents, headers=headers).json()["items"]) == 2,
            timeout_s=60,
            what="the printed letter",
        )
        wait_until(lambda: bool(_traces(var / "mail")), what="the receipt in the sink")
        assert _traces(var / "documents") and _traces(var)
        assert CANARIES[0] in httpx.get(f"{base}/dev/mail").text

        # When the application is withdrawn, deleted and purged
        for step in ("withdraw_application", "delete_application", "purge_application"):
            run_over_http(base, headers, {"type": step, "application_id": application})

        # Then neither the files of werving dev nor its page or log hold the applicant
        wait_until(lambda: not _traces(var / "documents"), what="the files to be erased")
        wait_until(lambda: not _traces(var / "mail"), what="the sink to forget the receipt")
        page = httpx.get(f"{base}/dev/mail").text
        assert not [c for c in CANARIES if c in page]
        assert _traces(var) == []
    assert _traces(log) == []
