"""The message every email starts as: from the organisation's verified sender, with the
headers fixed before the first attempt."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime as rfc2822_date
from email.utils import formataddr, make_msgid

from shared.db.models import Organisation
from shared.emails.rendering import RenderedEmail
from shared.settings import get_settings


def build_message(
    organisation: Organisation,
    rendered: RenderedEmail,
    *,
    to: list[str],
    cc: list[str] | None = None,
    reply_to: str | None = None,
) -> tuple[EmailMessage, str]:
    """The message from the organisation's sender, with its headers fixed; and the sender."""
    sender = organisation.sender_email or get_settings().default_sender
    message = EmailMessage()
    message["From"] = formataddr((organisation.sender_name or organisation.name, sender))
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)  # Bcc goes in the envelope only
    if reply_to:
        message["Reply-To"] = reply_to  # the sender stays the organisation's
    message["Subject"] = rendered.subject
    message["Date"] = rfc2822_date(datetime.now(UTC))
    # Fixed before the first attempt; the sender's domain, never this host's name.
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message, sender
