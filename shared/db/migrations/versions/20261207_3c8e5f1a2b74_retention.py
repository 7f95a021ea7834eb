"""retention policies and talent-pool consent

Each organisation's AVG retention policy (no row: the defaults), and each applicant's
consent to stay in the talent pool. Applicants already in the pool get a consent from
now for a year (the default policy's 12 months): the first reminder asks them before it ends.
Organisations that exist already get the default policy switched off, so that an upgrade never
purges by itself: their operator looks at the dry-run, then turns it on. New organisations have
no row, that is the default policy, on.

Revision ID: 3c8e5f1a2b74
Revises: 7a3f1c2e9d51
Create Date: 2026-12-07 23:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from shared.db.types import UTCDateTime

revision: str = '3c8e5f1a2b74'
down_revision: str | None = '7a3f1c2e9d51'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSENT = timedelta(days=365)  # the default policy's 12 months


def upgrade() -> None:
    policies = op.create_table(
        "retention_policies",
        sa.Column(
            "organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), primary_key=True
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("purge_after_weeks", sa.Integer(), nullable=False),
        sa.Column("consent_months", sa.Integer(), nullable=False),
        sa.Column("reminder_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    consents = op.create_table(
        "talent_pool_consents",
        sa.Column("applicant_id", sa.Uuid(), sa.ForeignKey("applicants.id"), primary_key=True),
        sa.Column(
            "organisation_id", sa.Uuid(), sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column("given_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("extended_at", UTCDateTime(), nullable=True),
        sa.Column("reminded_at", UTCDateTime(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True, unique=True),
    )
    op.create_index(
        "ix_talent_pool_consents_organisation_id", "talent_pool_consents", ["organisation_id"]
    )
    op.create_index("ix_talent_pool_consents_expires_at", "talent_pool_consents", ["expires_at"])
    applicants = sa.table(
        "applicants",
        sa.column("id", sa.Uuid()),
        sa.column("organisation_id", sa.Uuid()),
        sa.column("in_talent_pool", sa.Boolean()),
    )
    now = datetime.now(UTC)
    pooled = op.get_bind().execute(
        sa.select(applicants.c.id, applicants.c.organisation_id).where(
            applicants.c.in_talent_pool.is_(True)
        )
    )
    rows = [
        {
            "applicant_id": applicant_id,
            "organisation_id": organisation_id,
            "given_at": now,
            "expires_at": now + CONSENT,
        }
        for applicant_id, organisation_id in pooled
    ]
    if rows:
        op.bulk_insert(consents, rows)
    organisations = sa.table("organisations", sa.column("id", sa.Uuid()))
    existing = op.get_bind().execute(sa.select(organisations.c.id)).scalars().all()
    if existing:
        op.bulk_insert(
            policies,
            [
                {
                    "organisation_id": organisation_id,
                    "enabled": False,
                    "purge_after_weeks": 4,
                    "consent_months": 12,
                    "reminder_days": 30,
                    "updated_at": now,
                }
                for organisation_id in existing
            ],
        )


def downgrade() -> None:
    op.drop_index("ix_talent_pool_consents_expires_at", "talent_pool_consents")
    op.drop_index("ix_talent_pool_consents_organisation_id", "talent_pool_consents")
    op.drop_table("talent_pool_consents")
    op.drop_table("retention_policies")
