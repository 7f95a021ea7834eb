"""Real SMTP servers (aiosmtpd on loopback) that misbehave in the ways tests need."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller

from tests.processes import free_port


@dataclass
class Sink:
    """Keeps every message it receives. ``replies`` scripts the answers to DATA:
    a reply string, or ``"drop"`` to store the message and then cut the connection."""

    replies: list[str] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append(bytes(envelope.original_content or envelope.content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        reply = self.replies.pop(0) if self.replies else "250 OK"
        if reply == "drop":
            server.transport.close()
            return "250 OK"  # never reaches the client
        if not reply.startswith("2"):
            self.received.pop()
            self.envelopes.pop()
        return reply


@contextmanager
def smtp_sink(*replies: str) -> Iterator[tuple[Sink, int]]:
    sink = Sink(replies=list(replies))
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()
