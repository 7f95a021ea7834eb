"""The embedded mode's mail page: the emails the local sink caught, newest first.

Only ``werving dev`` mounts it; the production API never does. Each message is parsed
with the standard library and shown as text; an HTML part is shown in a sandboxed
frame (no scripts, no same-origin access, nothing fetched: the page's CSP forbids it).
Attachments download as files (``Content-Disposition: attachment``, never sniffed);
only the sink's own messages are read. Before it shows anything the page has the sink
forget the mail werving forgot (``forget``: a purge erased its email).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html import escape
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

_PARSER = BytesParser(policy=policy.default)
_NAME = re.compile(r"[0-9a-f-]{36}")  # the sink names each file by a new id
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# Attachments keep their type when a browser can only show or save them; others are bytes.
_DOWNLOAD_TYPES = frozenset(
    {
        "application/pdf",
        "text/calendar",
        "image/png",
        "image/jpeg",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    }
)
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}}
td,th{{padding:.2rem .6rem;text-align:left;vertical-align:top}}
pre{{white-space:pre-wrap;background:#f6f6f6;padding:1rem}}
iframe{{width:100%;height:30rem;border:1px solid #ccc}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""


def mail_page_router(directory: Path, forget: Callable[[], object] | None = None) -> APIRouter:
    router = APIRouter(prefix="/dev/mail", include_in_schema=False)

    def message_at(name: str) -> EmailMessage:
        if forget is not None:
            forget()
        path = directory / f"{name}.eml"
        if not _NAME.fullmatch(name) or not path.is_file():
            raise HTTPException(404, "no such message")
        return _parse(path)

    @router.get("", response_class=HTMLResponse)
    def list_mail() -> HTMLResponse:
        if forget is not None:
            forget()
        files = sorted(directory.glob("*.eml"), key=lambda f: f.stat().st_mtime, reverse=True)
        rows = "".join(_row(f.stem, _parse(f)) for f in files[:200])
        table = (
            "<table><tr><th>Date</th><th>To</th><th>Subject</th></tr>" + rows + "</table>"
            if rows
            else "<p>No mail yet.</p>"
        )
        return _page(f"Caught mail ({len(files)})", f"<p>In {escape(str(directory))}.</p>{table}")

    @router.get("/{name}", response_class=HTMLResponse)
    def show_mail(name: str) -> HTMLResponse:
        message = message_at(name)
        headers = "".join(
            f"<tr><th>{escape(h)}</th><td>{escape(str(message.get(h, '')))}</td></tr>"
            for h in ("Date", "From", "To", "Cc", "Reply-To", "Subject", "Message-ID")
            if message.get(h)
        )
        body = f"<p><a href='/dev/mail'>All mail</a></p><table>{headers}</table>"
        text = message.get_body(("plain",))
        if text is not None:
            body += f"<h2>Text</h2><pre>{escape(text.get_content())}</pre>"
        html = message.get_body(("html",))
        if html is not None:
            body += (
                "<h2>HTML</h2>"
                f'<iframe sandbox="" srcdoc="{escape(html.get_content(), quote=True)}"></iframe>'
            )
        attached = [
            f"<li><a href='/dev/mail/{name}/attachments/{index}'>"
            f"{escape(part.get_filename() or '(no name)')}</a>,"
            f" {escape(part.get_content_type())}, {_size(part)} bytes</li>"
            for index, part in enumerate(message.iter_attachments())
        ]
        if attached:
            body += "<h2>Attachments</h2><ul>" + "".join(attached) + "</ul>"
        return _page(str(message.get("Subject", "(no subject)")), body)

    @router.get("/{name}/attachments/{index}")
    def download_attachment(name: str, index: int) -> Response:
        parts = list(message_at(name).iter_attachments())
        if not 0 <= index < len(parts):
            raise HTTPException(404, "no such attachment")
        part = parts[index]
        assert isinstance(part, EmailMessage)
        media_type = part.get_content_type()
        filename = _UNSAFE_IN_NAME.sub("_", part.get_filename() or "").strip("._")
        payload = part.get_payload(decode=True)
        return Response(
            payload if isinstance(payload, bytes) else b"",
            media_type=media_type if media_type in _DOWNLOAD_TYPES else "application/octet-stream",
            headers={
                **_HEADERS,
                "Content-Disposition": f'attachment; filename="{filename or "attachment"}"',
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )

    return router


def _parse(path: Path) -> EmailMessage:
    message = _PARSER.parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def _size(part: EmailMessage) -> int:
    payload = part.get_payload(decode=True)
    return len(payload) if isinstance(payload, bytes) else 0


def _row(name: str, message: EmailMessage) -> str:
    cells = (message.get("Date", ""), message.get("To", ""), message.get("Subject", ""))
    date, to, subject = (escape(str(c)) for c in cells)
    return f"<tr><td>{date}</td><td>{to}</td><td><a href='/dev/mail/{name}'>{subject}</a></td></tr>"


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), headers=_HEADERS)
