"""interview responses

Revision ID: f5352944be28
Revises: bd3fc39d7812
Create Date: 2026-11-27 20:48:42.447083
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db.types


revision: str = 'f5352944be28'
down_revision: str | None = 'bd3fc39d7812'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('interviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('response', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('responded_at', shared.db.types.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('interviews', schema=None) as batch_op:
        batch_op.drop_column('responded_at')
        batch_op.drop_column('response')

