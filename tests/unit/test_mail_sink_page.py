"""The embedded mode's page of caught mail: what the local sink received, shown safely."""

from __future__ import annotations

import smtplib
from collections.abc import Iterable
from email.message import EmailMessage
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.mail_sink_page import mail_page_router
from services.mail_worker.sink import forget_unknown_mail, start_sink
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
    assert "c.pdf</a>, application/pdf, 8 bytes" in shown.text
    assert "default-src 'none'" in shown.headers["Content-Security-Policy"]


def test_only_the_sinks_own_files_can_be_opened(tmp_path: Path) -> None:
    (tmp_path.parent / "secret.eml").write_bytes(b"Subject: not yours\r\n\r\nx")
    app = FastAPI()
    app.include_router(mail_page_router(tmp_path))
    client = TestClient(app)
    assert client.get("/dev/mail/..%2Fsecret").status_code == 404
    assert client.get("/dev/mail/secret").status_code == 404
    assert client.get("/dev/mail").text.count("<tr>") == 0


def _caught(directory: Path, *messages: EmailMessage) -> list[str]:
    """The messages sent through a real sink into ``directory``; their file names."""
    port = free_port()
    sink = start_sink(directory, port=port)
    try:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for message in messages:
                smtp.send_message(message)
    finally:
        sink.stop()
    return sorted(f.stem for f in directory.glob("*.eml"))


def _message(message_id: str, *attachments: tuple[bytes, str, str]) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "hr@acme.example", "a@b.example", "Hi"
    message["Message-ID"] = message_id
    message.set_content("Hello")
    for data, content_type, filename in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


def test_an_attachment_downloads_as_a_file_that_is_never_sniffed_or_run(tmp_path: Path) -> None:
    # Given a caught email with a PDF and an HTML file attached
    [name] = _caught(
        tmp_path,
        _message(
            "<1@acme.example>",
            (b"%PDF-1.7 contract", "application/pdf", "contract v1.pdf"),
            (b"<script>alert(1)</script>", "text/html", "../evil.html"),
        ),
    )
    app = FastAPI()
    app.include_router(mail_page_router(tmp_path))
    client = TestClient(app)

    # When the newcomer opens the message and follows its attachment links
    shown = client.get(f"/dev/mail/{name}")
    pdf = client.get(f"/dev/mail/{name}/attachments/0")
    html = client.get(f"/dev/mail/{name}/attachments/1")
    missing = client.get(f"/dev/mail/{name}/attachments/2")

    # Then each is linked and downloads as a file: the PDF as a PDF, the HTML as bytes
    assert f"/dev/mail/{name}/attachments/0" in shown.text
    assert f"/dev/mail/{name}/attachments/1" in shown.text
    assert (pdf.status_code, pdf.content) == (200, b"%PDF-1.7 contract")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == 'attachment; filename="contract_v1.pdf"'
    assert html.headers["content-type"] == "application/octet-stream"
    assert html.headers["content-disposition"] == 'attachment; filename="evil.html"'
    for response in (pdf, html):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in response.headers["content-security-policy"]
    assert missing.status_code == 404
    assert client.get("/dev/mail/..%2Fsecret/attachments/0").status_code == 404


def test_the_sink_forgets_the_mail_whose_email_werving_no_longer_has(tmp_path: Path) -> None:
    # Given three caught emails, of which werving still has two (a purge erased one)
    # and one without a Message-ID, which werving did not send
    anonymous = _message("<x@y>")
    del anonymous["Message-ID"]
    names = _caught(
        tmp_path,
        _message("<kept-1@acme.example>"),
        _message("<purged@acme.example>"),
        _message("<kept-2@acme.example>"),
        anonymous,
    )
    still = {"<kept-1@acme.example>", "<kept-2@acme.example>"}
    asked: list[set[str]] = []

    def known(message_ids: Iterable[str]) -> set[str]:
        asked.append(set(message_ids))
        return still & asked[-1]

    app = FastAPI()
    app.include_router(mail_page_router(tmp_path, lambda: forget_unknown_mail(tmp_path, known)))

    # When the page is opened
    listed = TestClient(app).get("/dev/mail")

    # Then the purged one's file is gone and the page lists the other three
    assert len(names) == 4
    assert asked == [{"<kept-1@acme.example>", "<purged@acme.example>", "<kept-2@acme.example>"}]
    assert len(list(tmp_path.glob("*.eml"))) == 3
    assert listed.text.count("<tr><td>") == 3
