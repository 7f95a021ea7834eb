"""MIME for the emails werving composes, built from the email package's compat32 classes.

``EmailMessage`` (policy ``default``) parses every header into objects when it is set,
when it is read and again to fold it: most of the CPU an email took to compose. The
parts and headers here come from our own composition, already checked (addresses by
email-validator, no line breaks in any header value), so they are built as Django's
mail builds them: ``email.mime`` classes, each header encoded once (RFC 2047 for
non-ASCII text and display names, IDNA for domains), text parts as 7-bit when they are
plain ASCII and as quoted-printable UTF-8 otherwise (binascii's C encoder), attachments
as base64. The structure is what ``EmailMessage`` makes: ``multipart/alternative``
(text, then HTML), inside a ``multipart/mixed`` when there are attachments.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formataddr, getaddresses
from typing import Final

# RFC 5322 asks for lines of at most 78 characters; a longer plain line is encoded.
_MAX_PLAIN_LINE: Final = 78


@dataclass(frozen=True, slots=True)
class Attachment:
    data: bytes
    content_type: str  # maintype/subtype
    filename: str
    params: Mapping[str, str] = field(default_factory=dict)  # more Content-Type parameters


def multipart_message(
    headers: Sequence[tuple[str, str]],
    *,
    text: str,
    html: str,
    attachments: Sequence[Attachment] = (),
) -> Message:
    """The whole message: ``headers`` (values as they read, encoded here) on top."""
    alternative = MIMEMultipart(
        "alternative", _subparts=[_text(text, "plain"), _text(html, "html")]
    )
    message: Message = alternative
    if attachments:
        message = MIMEMultipart(
            "mixed", _subparts=[_subpart(alternative), *map(_attachment, attachments)]
        )
    for name, value in headers:
        message[name] = encode_header(name, value)
    return message


ADDRESS_HEADERS: Final = frozenset({"from", "to", "cc", "reply-to", "sender"})


def encode_header(name: str, value: str) -> str:
    """``value`` as it may stand in the header ``name``: ASCII, non-ASCII words encoded."""
    if value.isascii():
        return value
    if name.lower() in ADDRESS_HEADERS:
        return ", ".join(_address(display, address) for display, address in getaddresses([value]))
    return Header(value, "utf-8", header_name=name).encode()


def _address(display: str, address: str) -> str:
    local, at, domain = address.rpartition("@")
    if not domain.isascii():
        domain = domain.encode("idna").decode("ascii")
    if not local.isascii():
        # Deliverable only with SMTPUTF8; encoded as EmailMessage encodes it, not refused.
        local = Header(local, "utf-8").encode()
    return formataddr((display, f"{local}{at}{domain}"), charset="utf-8")


def _text(content: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    del part["MIME-Version"]  # the top of the message says it once
    if content.isascii() and all(len(line) <= _MAX_PLAIN_LINE for line in content.splitlines()):
        part["Content-Transfer-Encoding"] = "7bit"
        part.set_payload(content)
    else:
        part["Content-Transfer-Encoding"] = "quoted-printable"
        encoded = binascii.b2a_qp(content.encode("utf-8"), istext=True)
        part.set_payload(encoded.decode("ascii"))
    return part


def _attachment(attachment: Attachment) -> MIMEBase:
    maintype, _, subtype = attachment.content_type.partition("/")
    part = MIMEBase(maintype, subtype)
    for name, value in attachment.params.items():
        part.set_param(name, value)
    del part["MIME-Version"]
    part["Content-Transfer-Encoding"] = "base64"
    filename = attachment.filename
    part.add_header(
        "Content-Disposition",
        "attachment",
        filename=filename if filename.isascii() else ("utf-8", "", filename),
    )
    part.set_payload(base64.encodebytes(attachment.data).decode("ascii"))
    return part


def _subpart(part: MIMEMultipart) -> MIMEMultipart:
    del part["MIME-Version"]
    return part
