"""derived idempotency keys fit

A bulk request's commands are stored under ``<key>/<application id>``: up to 292
characters for a 255-character key, which the columns of 255 refused (a 500).

Revision ID: 7a3f1c2e9d51
Revises: 5d1e2c7a9b40
Create Date: 2026-12-07 23:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '7a3f1c2e9d51'
down_revision: str | None = '5d1e2c7a9b40'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("commands", "idempotency_key", False),
    ("idempotency_records", "key", False),
    ("command_refusals", "idempotency_key", True),
)


def upgrade() -> None:
    for table, column, nullable in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column,
                existing_type=sa.String(length=255),
                type_=sa.String(length=292),
                existing_nullable=nullable,
            )


def downgrade() -> None:
    for table, column, nullable in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column,
                existing_type=sa.String(length=292),
                type_=sa.String(length=255),
                existing_nullable=nullable,
            )
