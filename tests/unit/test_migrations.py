"""The Alembic migrations build exactly the schema the models describe, on SQLite too."""

from __future__ import annotations

import uuid
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select, text

from services.command_api.api_keys import create_organisation
from shared.db.base import Base
from shared.db.database import Database
from shared.db.migrate import upgrade
from shared.db.models import Organisation
from shared.retention.policy import policy_of


def test_the_migrated_sqlite_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_an_upgrade_turns_retention_off_for_organisations_that_existed_before(
    tmp_path: Path,
) -> None:
    # Given a database of the release before retention, with an organisation in it
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "7a3f1c2e9d51")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO organisations (id, name, default_locale, created_at)"
                " VALUES (:id, 'Old', 'nl', '2026-01-01 00:00:00.000000')"
            ),
            {"id": uuid.uuid4().hex},
        )
    engine.dispose()
    # When it is upgraded, and a new organisation is created after
    upgrade(url)
    db = Database(url)
    try:
        with db.transaction() as session:
            old = session.scalars(select(Organisation)).one()
            new = create_organisation(session, "New")
        # Then the old one's policy is off until its operator turns it on; the new one's is on
        with db.transaction() as session:
            assert policy_of(session, old.id).enabled is False
            assert policy_of(session, new.id).enabled is True
    finally:
        db.dispose()
