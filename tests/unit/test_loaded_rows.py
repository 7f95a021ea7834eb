"""Rows read on the driver path become ORM objects the session treats as loaded."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from shared.db.database import Database
from shared.db.loaded_rows import attach, columns
from shared.db.models import Organisation
from tests.conftest import Tenant
from tests.sql_log import statements


def _row(session: Session, tenant: Tenant) -> Any:
    return session.execute(
        select(*columns(Organisation, "org__")).where(Organisation.id == tenant.organisation_id)
    ).one()


def test_an_attached_row_is_a_persistent_unmodified_object_the_session_holds(
    db: Database, tenant: Tenant
) -> None:
    with db.transaction() as session:
        row = _row(session, tenant)
        organisation = attach(session, Organisation, row, "org__")

        assert organisation is not None
        assert inspect(organisation).persistent
        assert organisation.name == row.org__name
        assert not session.dirty
        with statements(db) as seen:
            assert session.get(Organisation, tenant.organisation_id) is organisation
            session.flush()
        assert seen == []  # found in the identity map; nothing to write


def test_a_change_to_an_attached_object_is_written_at_flush(db: Database, tenant: Tenant) -> None:
    with db.transaction() as session:
        organisation = attach(session, Organisation, _row(session, tenant), "org__")
        assert organisation is not None
        organisation.name = "Renamed BV"
        with statements(db) as seen:
            session.flush()
        assert [s.split()[0] for s in seen] == ["UPDATE"]

    with db.transaction() as session:
        assert session.get_one(Organisation, tenant.organisation_id).name == "Renamed BV"


def test_an_object_the_session_already_holds_is_returned_as_it_is(
    db: Database, tenant: Tenant
) -> None:
    with db.transaction() as session:
        held = session.get_one(Organisation, tenant.organisation_id)
        held.name = "Changed, not flushed"

        assert attach(session, Organisation, _row(session, tenant), "org__") is held
        assert held.name == "Changed, not flushed"


def test_a_row_without_a_primary_key_attaches_nothing(db: Database, tenant: Tenant) -> None:
    with db.transaction() as session:
        row = _row(session, tenant)._asdict() | {"org__id": None}

        assert attach(session, Organisation, type("Row", (), row), "org__") is None
