"""Sending over SMTP with aiosmtplib, one reused connection per worker thread.

SMTP replies are classified here: 4xx and timeouts may be retried, 5xx may not.
A connection lost after the message was handed over leaves the outcome unknown.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import aiosmtplib
import structlog

from shared.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SmtpReply:
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


class TemporaryFailure(Exception):  # noqa: N818 - an SMTP outcome, not a bug
    """4xx reply, timeout or refused connection: nothing was accepted; try again later."""


class PermanentFailure(Exception):  # noqa: N818
    """5xx reply: the server refused the message for good."""

    def __init__(self, reply: SmtpReply) -> None:
        super().__init__(str(reply))
        self.reply = reply


class OutcomeUnknown(Exception):  # noqa: N818
    """The connection broke after the message was sent: it may or may not have been accepted."""


class SmtpMailer:
    """Keeps one SMTP connection (and event loop) per thread, reconnecting when needed."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._local = threading.local()

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop: asyncio.AbstractEventLoop | None = getattr(self._local, "loop", None)
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            self._local.loop = loop
        return loop

    async def _client(self) -> aiosmtplib.SMTP:
        client: aiosmtplib.SMTP | None = getattr(self._local, "client", None)
        if client is not None and client.is_connected:
            return client
        s = self._settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            timeout=s.smtp_timeout_s,
            use_tls=s.smtp_security == "tls",
            start_tls=s.smtp_security == "starttls",
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
        )
        await client.connect()
        self._local.client = client
        return client

    async def _send(self, message: bytes, sender: str, recipients: list[str]) -> SmtpReply:
        try:
            client = await self._client()
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"cannot connect: {exc}") from None
        sent_data = False
        try:
            await client.mail(sender)
            for recipient in recipients:
                await client.rcpt(recipient)
            sent_data = True
            response = await client.data(message)  # aiosmtplib normalises line endings
        except aiosmtplib.SMTPResponseException as exc:
            reply = SmtpReply(exc.code, exc.message)
            await self._reset(client)
            if 500 <= exc.code < 600:
                raise PermanentFailure(reply) from None
            raise TemporaryFailure(str(reply)) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            self._local.client = None
            if sent_data:
                raise OutcomeUnknown(f"connection lost during DATA: {exc!r}") from None
            raise TemporaryFailure(f"connection lost: {exc!r}") from None
        return SmtpReply(response.code, response.message)

    @staticmethod
    async def _reset(client: aiosmtplib.SMTP) -> None:
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            client.close()

    def send(self, message: bytes, *, sender: str, recipients: list[str]) -> SmtpReply:
        """Send a message exactly as stored (the bytes that fix its Message-ID)."""
        return self._loop().run_until_complete(self._send(message, sender, recipients))

    def close(self) -> None:
        client: aiosmtplib.SMTP | None = getattr(self._local, "client", None)
        if client is not None and client.is_connected:
            self._loop().run_until_complete(client.quit())
        self._local.client = None
