"""The MIME the mail worker builds reads back, in any standard parser, as what was put in."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from services.mail_worker.mime import Attachment, multipart_message

HEADERS = [
    ("From", "Gemeente Enkhuizen <hr@gemeente.example>"),
    ("To", "Jörg Müller-Çelik <jorg@bücher.example>, p.devries@example.nl"),
    ("Reply-To", '"de Vries, Piet" <piet@gemeente.example>'),
    ("Subject", "Bevestiging van je sollicitatie \u2013 Développeur (m/v/x) " * 3),
    ("Message-ID", "<abc.123@gemeente.example>"),
    ("Content-Language", "nl"),
]
TEXT = "Beste Jörg,\n\nWe hebben je sollicitatie ontvangen.\n" + "é" * 200 + "\n"
HTML = "<p style='color: #333'>Beste Jörg,</p>" * 40


def _parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_headers_and_both_parts_read_back_as_written_and_the_bytes_are_seven_bit() -> None:
    raw = multipart_message(HEADERS, text=TEXT, html=HTML)

    assert raw.isascii()
    assert max(len(line) for line in raw.splitlines()) <= 78
    message = _parsed(raw)
    assert message.defects == []
    assert message["To"].addresses[0].display_name == "Jörg Müller-Çelik"
    assert message["To"].addresses[0].domain == "xn--bcher-kva.example"  # IDNA
    assert str(message["To"].addresses[1]) == "p.devries@example.nl"
    assert message["Reply-To"].addresses[0].display_name == "de Vries, Piet"
    assert str(message["Subject"]) == HEADERS[3][1]
    assert message["Message-ID"] == "<abc.123@gemeente.example>"
    assert message["Content-Language"] == "nl"
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content() == TEXT  # type: ignore[union-attr]
    assert message.get_body(("html",)).get_content().rstrip("\n") == HTML  # type: ignore[union-attr]


def test_a_plain_ascii_part_goes_as_it_is_and_a_long_or_accented_one_quoted_printable() -> None:
    raw = multipart_message(HEADERS, text="Hello,\nthanks.\n", html=HTML)

    plain, html = _parsed(raw).iter_parts()
    assert plain["Content-Transfer-Encoding"] == "7bit"
    assert "Hello,\nthanks.\n" in raw.decode()
    assert html["Content-Transfer-Encoding"] == "quoted-printable"  # a 1,600-character line


def test_attachments_follow_the_alternative_in_a_mixed_message_with_their_names() -> None:
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 40
    ics = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    raw = multipart_message(
        HEADERS,
        text=TEXT,
        html=HTML,
        attachments=[
            Attachment(pdf, "application/pdf", "arbeidsovereenkomst-Jörg.pdf"),
            Attachment(ics, "text/calendar", "invitation.ics", {"method": "REQUEST"}),
        ],
    )

    message = _parsed(raw)
    assert message.get_content_type() == "multipart/mixed"
    alternative, contract, invitation = message.iter_parts()
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert (contract.get_filename(), contract.get_content()) == (
        "arbeidsovereenkomst-Jörg.pdf",
        pdf,
    )
    assert invitation.get_filename() == "invitation.ics"
    assert invitation.get_param("method") == "REQUEST"
    assert invitation.get_payload(decode=True) == ics
    assert raw.count(b"MIME-Version") == 1
