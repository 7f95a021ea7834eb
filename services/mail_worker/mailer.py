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


class ServerUnreachable(TemporaryFailure):
    """No connection to the SMTP server could be opened (refused, timed out): the server
    is away, and nothing was sent."""


class PermanentFailure(Exception):  # noqa: N818
    """5xx reply: the server refused the message for good."""

    def __init__(self, reply: SmtpReply) -> None:
        super().__init__(str(reply))
        self.reply = reply


class OutcomeUnknown(Exception):  # noqa: N818
    """The connection broke after the message was sent: it may or may not have been accepted."""


class SmtpMailer:
    """Keeps one SMTP connection (and event loop) per thread, reconnecting when needed.

    One send takes at most half the mail lease (``mail_lease_s``), whatever the server
    does: the claim of an email outlives every attempt to send it, so no other worker
    takes it over while this one may still be sending.
    """

    def __init__(self, settings: Settings, *, deadline_s: float | None = None) -> None:
        self._settings = settings
        self._local = threading.local()
        self._deadline_s = settings.mail_lease_s / 2 if deadline_s is None else deadline_s

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop: asyncio.AbstractEventLoop | None = getattr(self._local, "loop", None)
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            self._local.loop = loop
        return loop

    def _kept(self) -> aiosmtplib.SMTP | None:
        client: aiosmtplib.SMTP | None = getattr(self._local, "client", None)
        return client if client is not None and client.is_connected else None

    async def _connect(self) -> aiosmtplib.SMTP:
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
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise ServerUnreachable(f"cannot connect: {exc}") from None
        self._local.client = client
        return client

    async def _send(self, message: bytes, sender: str, recipients: list[str]) -> SmtpReply:
        state = _Attempt()
        try:
            async with asyncio.timeout(self._deadline_s):
                return await self._send_on_a_connection(message, sender, recipients, state)
        except TimeoutError:
            self._drop()
            if state.sent_data:
                raise OutcomeUnknown(
                    f"no reply to DATA within the send's {self._deadline_s:g} s"
                ) from None
            raise TemporaryFailure(f"no reply within the send's {self._deadline_s:g} s") from None

    async def _send_on_a_connection(
        self, message: bytes, sender: str, recipients: list[str], state: _Attempt
    ) -> SmtpReply:
        client = self._kept()
        if client is not None:
            try:
                await client.mail(sender)
            except (aiosmtplib.SMTPServerDisconnected, OSError):
                # The server closed the kept connection meanwhile (an idle timeout, a
                # restart); nothing was sent on it: on a new one.
                self._drop()
                client = None
            except aiosmtplib.SMTPResponseException as exc:
                raise await self._refused(client, exc) from None
        if client is None:
            client = await self._connect()
            try:
                await client.mail(sender)
            except aiosmtplib.SMTPResponseException as exc:
                raise await self._refused(client, exc) from None
            except (aiosmtplib.SMTPException, OSError) as exc:
                self._drop()
                raise TemporaryFailure(f"connection lost: {exc!r}") from None
        try:
            for recipient in recipients:
                await client.rcpt(recipient)
            state.sent_data = True
            response = await client.data(message)  # aiosmtplib normalises line endings
        except aiosmtplib.SMTPResponseException as exc:
            raise await self._refused(client, exc) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            self._drop()
            if state.sent_data:
                raise OutcomeUnknown(f"connection lost during DATA: {exc!r}") from None
            raise TemporaryFailure(f"connection lost: {exc!r}") from None
        return SmtpReply(response.code, response.message)

    async def _refused(
        self, client: aiosmtplib.SMTP, exc: aiosmtplib.SMTPResponseException
    ) -> Exception:
        """The failure a refusal reply means; the connection is reset for the next send."""
        reply = SmtpReply(exc.code, exc.message)
        await self._reset(client)
        if 500 <= exc.code < 600:
            return PermanentFailure(reply)
        return TemporaryFailure(str(reply))

    async def _reset(self, client: aiosmtplib.SMTP) -> None:
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        """Forget this thread's connection, closing what is left of it."""
        client: aiosmtplib.SMTP | None = getattr(self._local, "client", None)
        self._local.client = None
        if client is not None:
            client.close()

    def send(self, message: bytes, *, sender: str, recipients: list[str]) -> SmtpReply:
        """Send a message exactly as stored (the bytes that fix its Message-ID)."""
        return self._loop().run_until_complete(self._send(message, sender, recipients))

    def close(self) -> None:
        client = self._kept()
        if client is not None:
            self._loop().run_until_complete(client.quit())
        self._local.client = None


@dataclass(slots=True)
class _Attempt:
    """How far one send got: past RCPT, the message may have reached the server."""

    sent_data: bool = False
