"""Transactions, the session a worker's thread keeps between them, and JSON columns."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Session

from shared.db.database import Database
from shared.db.deferred_writes import append
from shared.db.models import Organisation, OutboxMessage
from shared.db.types import JSONText


@pytest.fixture
def kept(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url, session_per_thread=True)
    yield database
    database.dispose()


def _names(db: Database) -> list[str]:
    with db.transaction() as session:
        return list(session.scalars(select(Organisation.name).order_by(Organisation.name)))


class HandlerError(Exception):
    pass


def test_a_thread_runs_its_transactions_on_the_session_it_keeps_emptied_each_time(
    kept: Database,
) -> None:
    with kept.transaction() as first:
        first.add(Organisation(name="Acme"))
    with kept.transaction() as second:
        assert second is first
        assert len(second.identity_map) == 0  # nothing of the first transaction
        second.add(Organisation(name="Globex"))
    assert _names(kept) == ["Acme", "Globex"]


def test_each_thread_keeps_a_session_of_its_own(kept: Database) -> None:
    sessions: list[Session] = []

    def handle() -> None:
        with kept.transaction() as session:
            sessions.append(session)

    threads = [threading.Thread(target=handle) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with kept.transaction() as here:
        sessions.append(here)
    assert len({id(session) for session in sessions}) == 3


def test_a_failed_transaction_writes_nothing_and_leaves_nothing_for_the_next(
    kept: Database,
) -> None:
    with pytest.raises(HandlerError), kept.transaction() as session:
        session.add(Organisation(name="Acme"))
        append(session, Organisation, {"name": "Deferred"})
        raise HandlerError
    with kept.transaction() as session:
        session.add(Organisation(name="Globex"))
    assert _names(kept) == ["Globex"]


def test_the_kept_session_refuses_work_outside_a_transaction_block(kept: Database) -> None:
    with kept.transaction() as session:
        pass
    with pytest.raises(InvalidRequestError, match=r"[Aa]utobegin"):
        session.scalar(select(func.count()).select_from(Organisation))


def test_without_keeping_every_transaction_has_a_new_session(db: Database) -> None:
    with db.transaction() as first:
        pass
    with db.transaction() as second:
        assert second is not first


def test_a_json_column_stores_json_text_as_the_document_it_holds(db: Database) -> None:
    with db.transaction() as session:
        session.add_all(
            [
                OutboxMessage(
                    kind="event", destination="serialized", payload=JSONText('{"a": [1]}')
                ),
                OutboxMessage(kind="event", destination="plain", payload={"a": [1]}),
                OutboxMessage(kind="event", destination="a string", payload='{"a": [1]}'),
            ]
        )
    with db.transaction() as session:
        rows = session.execute(select(OutboxMessage.destination, OutboxMessage.payload))
        stored: dict[str, object] = {row.destination: row.payload for row in rows}
    assert stored == {"serialized": {"a": [1]}, "plain": {"a": [1]}, "a string": '{"a": [1]}'}
