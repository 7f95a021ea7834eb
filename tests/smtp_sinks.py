"""Real SMTP servers (aiosmtpd on loopback) that misbehave in the ways tests need."""

from __future__ import annotations

import asyncio
import threading
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


@dataclass
class StallingSink(Sink):
    """Takes the first ``stall`` messages and never answers their DATA (keeping nothing of
    them) until ``release`` is set or the client goes; answers the others as ``Sink``.
    ``stalled`` counts the messages it holds or held."""

    stall: int = 0
    stalled: int = 0
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.stalled >= self.stall:
            return await super().handle_DATA(server, session, envelope)
        self.stalled += 1
        while not self.release.is_set() and not server.transport.is_closing():
            await asyncio.sleep(0.05)
        return "451 4.3.0 Stalled"


@contextmanager
def smtp_sink(*replies: str, port: int | None = None) -> Iterator[tuple[Sink, int]]:
    sink = Sink(replies=list(replies))
    with serving(sink, port=port) as bound:
        yield sink, bound


@contextmanager
def serving(sink: Sink, *, port: int | None = None) -> Iterator[int]:
    """Serve ``sink`` on loopback (on ``port``, or a free one) until the block ends."""
    port = port or free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
