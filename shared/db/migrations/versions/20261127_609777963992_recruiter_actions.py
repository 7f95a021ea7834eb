"""recruiter actions

Revision ID: 609777963992
Revises: cbfdde3767f0
Create Date: 2026-11-27 19:43:45.423945
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db.types
from sqlalchemy.dialects import postgresql


revision: str = "609777963992"
down_revision: str | None = "cbfdde3767f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", shared.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_departments_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
    )
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_departments_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "rejection_reasons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("rejection_type", sa.String(length=20), nullable=False),
        sa.Column("label_nl", sa.String(length=200), nullable=False),
        sa.Column("label_en", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", shared.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_rejection_reasons_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejection_reasons")),
    )
    with op.batch_alter_table("rejection_reasons", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rejection_reasons_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "scheduled_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=True),
        sa.Column("command_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("due_at", shared.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", shared.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("enqueued_at", shared.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", shared.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_scheduled_jobs_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_jobs")),
    )
    with op.batch_alter_table("scheduled_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scheduled_jobs_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(
            "ix_scheduled_jobs_due",
            ["due_at"],
            unique=False,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "positions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_at", shared.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_positions_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_positions_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
    )
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_positions_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "employees",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("applicant_id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("position_id", sa.Uuid(), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("created_at", shared.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["applicant_id"], ["applicants.id"], name=op.f("fk_employees_applicant_id_applicants")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_employees_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_employees_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_employees_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["position_id"], ["positions.id"], name=op.f("fk_employees_position_id_positions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employees")),
        sa.UniqueConstraint("applicant_id", name=op.f("uq_employees_applicant_id")),
    )
    with op.batch_alter_table("employees", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_employees_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "interviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("command_id", sa.Uuid(), nullable=True),
        sa.Column("interview_type", sa.String(length=20), nullable=False),
        sa.Column("starts_at", shared.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=500), nullable=True),
        sa.Column("video_link", sa.String(length=2000), nullable=True),
        sa.Column(
            "interviewers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", shared.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", shared.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_interviews_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_interviews_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interviews")),
    )
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_interviews_application_id"), ["application_id"], unique=False
        )

    op.create_table(
        "offers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("command_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("salary_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("salary_currency", sa.String(length=3), nullable=False),
        sa.Column("salary_period", sa.String(length=10), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("expires_at", shared.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("response_reason", sa.String(length=500), nullable=True),
        sa.Column("responded_at", shared.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", shared.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_offers_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_offers_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
        sa.UniqueConstraint(
            "application_id", "version", name=op.f("uq_offers_application_id_version")
        ),
    )
    with op.batch_alter_table("applicants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cv_document_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("in_talent_pool", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("is_candidate", sa.Boolean(), nullable=False, server_default=sa.true())
        )

    with op.batch_alter_table("application_events", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_application_events_application_id_applications"), type_="foreignkey"
        )

    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cv_document_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("rejection_type", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("rejection_reason_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("rejection_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("transferred_from_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_applications_rejection_reason_id_rejection_reasons"),
            "rejection_reasons",
            ["rejection_reason_id"],
            ["id"],
        )

    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "result",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )

    with op.batch_alter_table("vacancies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("position_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_vacancies_position_id_positions"), "positions", ["position_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_vacancies_department_id_departments"),
            "departments",
            ["department_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("vacancies", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_vacancies_department_id_departments"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_vacancies_position_id_positions"), type_="foreignkey"
        )
        batch_op.drop_column("position_id")
        batch_op.drop_column("department_id")

    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.drop_column("result")

    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_applications_rejection_reason_id_rejection_reasons"), type_="foreignkey"
        )
        batch_op.drop_column("transferred_from_id")
        batch_op.drop_column("rejection_note")
        batch_op.drop_column("rejection_reason_id")
        batch_op.drop_column("rejection_type")
        batch_op.drop_column("cv_document_id")

    with op.batch_alter_table("application_events", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_application_events_application_id_applications"),
            "applications",
            ["application_id"],
            ["id"],
        )

    with op.batch_alter_table("applicants", schema=None) as batch_op:
        batch_op.drop_column("is_candidate")
        batch_op.drop_column("in_talent_pool")
        batch_op.drop_column("cv_document_id")

    op.drop_table("offers")
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interviews_application_id"))

    op.drop_table("interviews")
    with op.batch_alter_table("employees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employees_organisation_id"))

    op.drop_table("employees")
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_positions_organisation_id"))

    op.drop_table("positions")
    with op.batch_alter_table("scheduled_jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_scheduled_jobs_due",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index(batch_op.f("ix_scheduled_jobs_application_id"))

    op.drop_table("scheduled_jobs")
    with op.batch_alter_table("rejection_reasons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rejection_reasons_organisation_id"))

    op.drop_table("rejection_reasons")
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_departments_organisation_id"))

    op.drop_table("departments")
