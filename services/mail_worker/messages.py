"""The message every email starts as: from the organisation's verified sender, with the
headers fixed before the first attempt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime as rfc2822_date
from email.utils import formataddr, make_msgid

from services.mail_worker.mime import Attachment, multipart_message
from shared.db.models import Organisation
from shared.emails.rendering import RenderedEmail
from shared.settings import get_settings


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    mime: bytes
    message_id: str
    sender: str  # the envelope sender, also in From


def build_message(
    organisation: Organisation,
    rendered: RenderedEmail,
    *,
    to: list[str],
    language: str,
    cc: list[str] | None = None,
    reply_to: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> OutgoingMessage:
    """The message from the organisation's sender, with its headers fixed."""
    sender = sender_of(organisation)
    domain = sender.rpartition("@")[2]
    headers = [
        ("From", formataddr((organisation.sender_name or organisation.name, sender))),
        ("To", ", ".join(to)),
    ]
    if cc:
        headers.append(("Cc", ", ".join(cc)))  # Bcc goes in the envelope only
    if reply_to:
        headers.append(("Reply-To", reply_to))  # the sender stays the organisation's
    # Fixed before the first attempt; the sender's domain, never this host's name.
    message_id = make_msgid(domain=domain.encode("idna").decode("ascii"))
    headers += [
        ("Subject", rendered.subject),
        ("Date", rfc2822_date(datetime.now(UTC))),
        ("Message-ID", message_id),
        ("Auto-Submitted", "auto-generated"),
        ("Content-Language", language),
    ]
    mime = multipart_message(
        headers, text=rendered.text, html=rendered.html, attachments=attachments
    )
    return OutgoingMessage(mime, message_id, sender)


def sender_of(organisation: Organisation) -> str:
    """The envelope sender and From address: the organisation's verified sender."""
    return organisation.sender_email or get_settings().default_sender
