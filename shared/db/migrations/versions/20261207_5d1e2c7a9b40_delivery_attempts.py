"""delivery attempts

Revision ID: 5d1e2c7a9b40
Revises: d73ee37e39db
Create Date: 2026-12-07 21:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db.types


revision: str = '5d1e2c7a9b40'
down_revision: str | None = 'd73ee37e39db'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('delivery_attempts',
    sa.Column('consumer', sa.String(length=60), nullable=False),
    sa.Column('message_key', sa.String(length=255), nullable=False),
    sa.Column('starts', sa.Integer(), nullable=False),
    sa.Column('last_started_at', shared.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'message_key', name=op.f('pk_delivery_attempts'))
    )
    op.create_index(op.f('ix_delivery_attempts_last_started_at'), 'delivery_attempts', ['last_started_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_delivery_attempts_last_started_at'), table_name='delivery_attempts')
    op.drop_table('delivery_attempts')
