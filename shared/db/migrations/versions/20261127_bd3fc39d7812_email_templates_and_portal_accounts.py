"""email templates and portal accounts

Revision ID: bd3fc39d7812
Revises: 58709c4604bf
Create Date: 2026-11-27 20:25:15.109983
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db.types


revision: str = 'bd3fc39d7812'
down_revision: str | None = '58709c4604bf'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('email_templates',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('locale', sa.String(length=2), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', shared.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_email_templates_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_templates')),
    sa.UniqueConstraint('organisation_id', 'purpose', 'locale', name=op.f('uq_email_templates_organisation_id_purpose_locale'))
    )
    op.create_table('candidate_accounts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('applicant_id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('password_set_at', shared.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', shared.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', shared.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['applicant_id'], ['applicants.id'], name=op.f('fk_candidate_accounts_applicant_id_applicants')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_candidate_accounts_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_candidate_accounts')),
    sa.UniqueConstraint('applicant_id', name=op.f('uq_candidate_accounts_applicant_id'))
    )
    with op.batch_alter_table('candidate_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_candidate_accounts_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('set_password_tokens',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', shared.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', shared.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', shared.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', shared.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['candidate_accounts.id'], name=op.f('fk_set_password_tokens_account_id_candidate_accounts')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_set_password_tokens_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_set_password_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_set_password_tokens_token_hash'))
    )
    with op.batch_alter_table('set_password_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_set_password_tokens_account_id'), ['account_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('set_password_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_set_password_tokens_account_id'))

    op.drop_table('set_password_tokens')
    with op.batch_alter_table('candidate_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_candidate_accounts_organisation_id'))

    op.drop_table('candidate_accounts')
    op.drop_table('email_templates')
