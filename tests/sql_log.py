"""The SQL a test's code sends, as the engine's cursor events see it (the driver path
fires them too)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from shared.db.database import Database


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL of every statement sent meanwhile, in order."""
    sent: list[str] = []

    def remember(*args: Any) -> None:
        sent.append(args[2])

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
