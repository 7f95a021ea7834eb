"""The MIME bytes of the emails werving composes, written directly.

``EmailMessage`` (policy ``default``) parses every header into objects when it is set,
when it is read and again to fold it, and its generator walks the message to write it:
most of the CPU an email took to compose. Our emails have one shape, and their parts
and headers come from our own composition, already checked (addresses by
email-validator, no line breaks in any header value). So they are written here in one
pass: each header encoded once (RFC 2047 for non-ASCII text and display names, IDNA for
domains, folded as the email package folds), text parts as 7-bit when they are plain
short-lined ASCII and as quoted-printable UTF-8 otherwise (binascii's C encoder),
attachments as base64 with RFC 2231 file names. The structure is what ``EmailMessage``
makes: ``multipart/alternative`` (text, then HTML), inside a ``multipart/mixed`` when
there are attachments. ``tests/unit/test_mail_mime.py`` reads it back with the
standard parser.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.header import Header
from email.utils import formataddr, getaddresses
from typing import Final

# RFC 5322 asks for lines of at most 78 characters.
MAX_LINE: Final = 78
ADDRESS_HEADERS: Final = frozenset({"from", "to", "cc", "reply-to", "sender"})


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
) -> bytes:
    """The whole message: ``headers`` (values as they read, encoded here) on top."""
    alternative = _multipart("alternative", [_text(text, "plain"), _text(html, "html")])
    content_type, body = alternative
    if attachments:
        parts = ["".join(alternative), *map(_attachment, attachments)]
        content_type, body = _multipart("mixed", parts)
    head = "".join(_header(name, encode_header(name, value)) for name, value in headers)
    return f"{content_type}MIME-Version: 1.0\n{head}{body}".encode("ascii")


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


def _header(name: str, value: str) -> str:
    if len(name) + 2 + len(value) <= MAX_LINE or "\n" in value:  # short, or folded already
        return f"{name}: {value}\n"
    return f"{name}: {Header(value, header_name=name).encode(maxlinelen=MAX_LINE)}\n"


def _text(content: str, subtype: str) -> str:
    head = f'Content-Type: text/{subtype}; charset="utf-8"\n'
    if content.isascii() and all(len(line) <= MAX_LINE for line in content.splitlines()):
        return f"{head}Content-Transfer-Encoding: 7bit\n\n{_ending(content)}"
    encoded = binascii.b2a_qp(content.encode("utf-8"), istext=True).decode("ascii")
    return f"{head}Content-Transfer-Encoding: quoted-printable\n\n{_ending(encoded)}"


def _attachment(attachment: Attachment) -> str:
    params = "".join(f'; {name}="{value}"' for name, value in attachment.params.items())
    filename = attachment.filename
    if filename.isascii():
        disposition = f'attachment; filename="{_quoted(filename)}"'
    else:  # RFC 2231
        disposition = f"attachment; filename*=utf-8''{_percent(filename)}"
    data = base64.encodebytes(attachment.data).decode("ascii")
    return (
        f"Content-Type: {attachment.content_type}{params}\n"
        "Content-Transfer-Encoding: base64\n"
        f"Content-Disposition: {disposition}\n\n{data}"
    )


def _multipart(subtype: str, parts: Sequence[str]) -> tuple[str, str]:
    """The Content-Type header and the body (from its blank line) of a multipart.

    Written as the email package writes it: each part's own last line break stays its
    content, and the delimiter brings its own.
    """
    boundary = _boundary(parts)
    delimiter = f"\n--{boundary}\n"
    body = f"\n--{boundary}\n{delimiter.join(parts)}\n--{boundary}--\n"
    return f'Content-Type: multipart/{subtype};\n boundary="{boundary}"\n', body


def _boundary(parts: Sequence[str]) -> str:
    # '=' cannot start a line of quoted-printable or base64 text; a 7-bit part is checked.
    while True:
        boundary = f"==werving_{secrets.token_hex(12)}=="
        if not any(boundary in part for part in parts):
            return boundary


def _ending(content: str) -> str:
    return content if content.endswith("\n") else content + "\n"


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _percent(value: str) -> str:
    return "".join(
        chr(byte) if (chr(byte).isalnum() and byte < 128) or chr(byte) in "-._~" else f"%{byte:02X}"
        for byte in value.encode("utf-8")
    )
