"""The embedded mode's page of caught mail: what the local sink received, shown safely."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.mail_sink_page import mail_page_router
from services.mail_worker.sink import start_sink
from tests.processes import free_port


def test_caught_mail_is_listed_and_shown_with_its_html_sandboxed(tmp_path: Path) -> None:
    # Given an email with text, HTML that tries to run a script, and a PDF, sent to the sink
    message = EmailMessage()
    message["From"], message["To"] = "hr@acme.example", "ann@example.org"
    message["Subject"] = "Uitnodiging <gesprek>"
    message.set_content("Dear Ann, see you Monday.")
    message.add_alternative("<p>Dear <b>Ann</b></p><script>alert(1)</script>", subtype="html")
    message.add_attachment(b"%PDF-1.7", maintype="application", subtype="pdf", filename="c.pdf")
    port = free_port()
    sink = start_sink(tmp_path, port=port)
    try:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(message)
    finally:
        sink.stop()
    app = FastAPI()
    app.include_router(mail_page_router(tmp_path))
    client = TestClient(app)

    # When the newcomer opens the page, then the message
    listed = client.get("/dev/mail")
    (name,) = [f.stem for f in tmp_path.glob("*.eml")]
    shown = client.get(f"/dev/mail/{name}")

    # Then both show it, escaped, with nothing fetched or run
    assert listed.status_code == 200 and "Uitnodiging &lt;gesprek&gt;" in listed.text
    assert f"/dev/mail/{name}" in listed.text
    assert shown.status_code == 200
    assert "Dear Ann, see you Monday." in shown.text
    assert '<iframe sandbox="" srcdoc="&lt;p&gt;Dear &lt;b&gt;Ann' in shown.text
    assert "<script" not in shown.text
    assert "c.pdf, application/pdf, 8 bytes" in shown.text
    assert "default-src 'none'" in shown.headers["Content-Security-Policy"]


def test_only_the_sinks_own_files_can_be_opened(tmp_path: Path) -> None:
    (tmp_path.parent / "secret.eml").write_bytes(b"Subject: not yours\r\n\r\nx")
    app = FastAPI()
    app.include_router(mail_page_router(tmp_path))
    client = TestClient(app)
    assert client.get("/dev/mail/..%2Fsecret").status_code == 404
    assert client.get("/dev/mail/secret").status_code == 404
    assert client.get("/dev/mail").text.count("<tr>") == 0
