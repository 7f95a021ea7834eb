"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shared.db.base import Base
from shared.db.database import Database

pytestmark = pytest.mark.integration


def test_the_migrated_postgresql_schema_matches_the_models(pg: Database) -> None:
    with pg.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
