"""unsettled work indexes

Revision ID: a4c81f0e6b2d
Revises: 3c8e5f1a2b74
Create Date: 2026-12-07 23:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a4c81f0e6b2d"
down_revision: str | None = "3c8e5f1a2b74"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSETTLED = "state IN ('pending', 'sending', 'unknown')"
ENQUEUED = "status = 'enqueued'"


def upgrade() -> None:
    op.create_index(
        "ix_outbound_emails_unsettled",
        "outbound_emails",
        ["state", "updated_at"],
        unique=False,
        postgresql_where=sa.text(UNSETTLED),
        sqlite_where=sa.text(UNSETTLED),
    )
    op.create_index(
        "ix_scheduled_jobs_enqueued",
        "scheduled_jobs",
        ["enqueued_at"],
        unique=False,
        postgresql_where=sa.text(ENQUEUED),
        sqlite_where=sa.text(ENQUEUED),
    )


def downgrade() -> None:
    op.drop_index("ix_scheduled_jobs_enqueued", table_name="scheduled_jobs")
    op.drop_index("ix_outbound_emails_unsettled", table_name="outbound_emails")
