"""A local SMTP server that stores every message it receives as a ``.eml`` file.

Used by the embedded mode (``werving dev``) so that nothing leaves the machine. It
forgets what werving forgot: :func:`forget_unknown_mail` deletes each caught message
whose Message-ID no email row has any more (a purge erased it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path
from typing import Any

import structlog
from aiosmtpd.controller import Controller

from shared.ids import new_id

log = structlog.get_logger(__name__)

_HEADERS = BytesHeaderParser(policy=default)


class MaildirHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        path = self.directory / f"{new_id()}.eml"
        path.write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def start_sink(directory: Path, *, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    controller = Controller(MaildirHandler(directory), hostname=host, port=port)
    controller.start()
    return controller


def forget_unknown_mail(directory: Path, known: Callable[[Iterable[str]], set[str]]) -> int:
    """Delete the caught messages whose Message-ID ``known`` does not return (of those it
    is given); how many went. A message without a Message-ID was not werving's: kept."""
    caught: dict[str, list[Path]] = {}
    for path in directory.glob("*.eml"):
        try:
            with path.open("rb") as file:
                message_id = _HEADERS.parse(file).get("Message-ID")
        except FileNotFoundError:  # forgotten meanwhile
            continue
        if message_id:
            caught.setdefault(str(message_id).strip(), []).append(path)
    if not caught:
        return 0
    still = known(caught)
    gone = [
        path for message_id, paths in caught.items() if message_id not in still for path in paths
    ]
    for path in gone:
        path.unlink(missing_ok=True)
    if gone:
        log.info("mail_sink.forgotten", count=len(gone))
    return len(gone)
