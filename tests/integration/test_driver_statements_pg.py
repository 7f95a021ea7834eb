"""Prebuilt statements on psycopg's cursor behave as SQLAlchemy's own path does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    bindparam,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from shared.db.database import Database
from shared.db.driver_statements import compile_for_driver, run
from shared.db.types import UTCDateTime, utcnow

pytestmark = pytest.mark.integration

_metadata = MetaData()
pg_stat_activity = Table(
    "pg_stat_activity", MetaData(), Column("pid", Integer), Column("query", String)
)
_probe = Table(
    "driver_statement_probe",
    _metadata,
    Column("id", Uuid, primary_key=True),
    Column("label", String(40), nullable=False, unique=True),
    Column("payload", JSONB),
    Column("at", UTCDateTime),
    Column("n", Integer, nullable=False, default=7),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)
_INSERT = insert(_probe).values(
    id=bindparam("id"), label=bindparam("label"), payload=bindparam("payload"), at=bindparam("at")
)
_SELECT = select(_probe, (_probe.c.n % 4).label("n_mod_4")).where(_probe.c.id == bindparam("id"))
_RELABEL = (
    update(_probe)
    .where(_probe.c.label == bindparam("old"))
    .values(label=bindparam("new"), n=_probe.c.n + 1)
    .returning(_probe.c.label, _probe.c.n)
)


@pytest.fixture
def db(pg: Database) -> Iterator[Database]:
    _metadata.create_all(pg.engine)
    try:
        yield pg
    finally:
        _metadata.drop_all(pg.engine)


def test_a_prebuilt_statement_runs_on_the_driver_with_types_defaults_and_results(
    db: Database,
) -> None:
    # Given statements that bind JSON, a zoned datetime, Python-side defaults and a %
    assert compile_for_driver(_INSERT, db.engine.dialect) is not None
    assert compile_for_driver(_SELECT, db.engine.dialect) is not None
    row_id = uuid.uuid4()
    amsterdam = datetime(2027, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))

    # When they run through the driver path
    with db.transaction() as session:
        connection = session.connection()
        inserted = run(
            connection,
            _INSERT,
            {"id": row_id, "label": "first", "payload": {"a": [1, "é"]}, "at": amsterdam},
        )
        [row] = run(connection, _SELECT, {"id": row_id})
        [relabelled] = run(connection, _RELABEL, {"old": "first", "new": "second"})

    # Then the values come back as SQLAlchemy's own path reads them
    assert inserted == []
    assert (row.id, row.label, row.payload, row.n, row.n_mod_4) == (
        row_id,
        "first",
        {"a": [1, "é"]},
        7,
        3,
    )
    assert row.at == amsterdam and row.at.tzinfo is UTC
    assert row.created_at.tzinfo is UTC
    assert (relabelled.label, relabelled.n) == ("second", 8)
    with db.transaction() as session:
        stored = session.execute(select(_probe).where(_probe.c.id == row_id)).one()
    assert stored._asdict() == {
        "id": row_id,
        "label": "second",
        "payload": {"a": [1, "é"]},
        "at": amsterdam,
        "n": 8,
        "created_at": row.created_at,
    }


def test_the_driver_path_fires_the_cursor_events_and_wraps_errors_as_sqlalchemy_does(
    db: Database,
) -> None:
    sent: list[str] = []

    def remember(*args: Any) -> None:
        sent.append(args[2])

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        with db.transaction() as session:
            run(session.connection(), _INSERT, _row("taken"))
        # A unique violation is SQLAlchemy's IntegrityError, its parameters hidden
        with pytest.raises(IntegrityError) as raised, db.transaction() as session:
            run(session.connection(), _INSERT, _row("taken"))
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)

    assert len([s for s in sent if s.startswith("INSERT INTO driver_statement_probe")]) == 2
    assert "$1" in sent[0] and "%(" not in sent[0]
    assert "hidden due to hide_parameters" in str(raised.value)
    # And the session rolled back: the connection serves the next transaction
    with db.transaction() as session:
        run(session.connection(), _INSERT, _row("next"))
        assert len(run(session.connection(), select(_probe.c.id), {})) == 2


def test_an_expanding_in_keeps_sqlalchemys_path(db: Database) -> None:
    statement = select(_probe.c.label).where(
        _probe.c.label.in_(bindparam("labels", expanding=True))
    )
    assert compile_for_driver(statement, db.engine.dialect) is None
    with db.transaction() as session:
        for label in ("a", "b", "c"):
            run(session.connection(), _INSERT, _row(label))
        rows = run(session.connection(), statement, {"labels": ["a", "c"]})
    assert sorted(row.label for row in rows) == ["a", "c"]


def _row(label: str) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "label": label, "payload": None, "at": None}


def test_a_listener_that_rewrites_the_statement_is_heard_on_the_driver_path(db: Database) -> None:
    def tag(*args: Any) -> tuple[str, Any]:
        return "/* tagged */ " + args[2], args[3]

    event.listen(db.engine, "before_cursor_execute", tag, retval=True)
    try:
        with db.transaction() as session:
            run(session.connection(), _INSERT, _row("tagged"))
            statements = run(
                session.connection(),
                select(func.count()).where(
                    pg_stat_activity.c.query.like("/* tagged */%"),
                    pg_stat_activity.c.pid == func.pg_backend_pid(),
                ),
                {},
            )
    finally:
        event.remove(db.engine, "before_cursor_execute", tag)
    # The count's own statement is the tagged one running now
    assert statements[0][0] == 1


def test_statements_the_driver_path_cannot_run_as_compiled_keep_sqlalchemys_path(
    db: Database,
) -> None:
    not_a_name = select(func.count(_probe.c.id).label("how many"))
    computed = select(_probe.c.id).where(_probe.c.label == bindparam("now", callable_=lambda: "x"))
    assert compile_for_driver(not_a_name, db.engine.dialect) is None
    assert compile_for_driver(computed, db.engine.dialect) is None
