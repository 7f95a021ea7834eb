"""Retention tests' clock: the world ages instead of the clock moving.

Every process reads the real clock; moving the clock ``days`` ahead is the same, for
retention, as moving each time it reads back by ``days``: when vacancies closed,
applications last changed and consents were given, reminded, extended and end.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from services.status_worker.unit_of_work import run_command
from shared.db.database import Database
from shared.db.models import Application, CommandRecord, TalentPoolConsent, Vacancy
from shared.db.types import utcnow
from tests.workflow import HANDLERS, task_message

AGED = {
    Vacancy: ("closed_at",),
    Application: ("updated_at",),
    TalentPoolConsent: ("given_at", "expires_at", "reminded_at", "extended_at"),
}


def advance_clock(db: Database, *, days: float) -> None:
    """As if ``days`` went by: every time retention reads lies that much further back."""
    delta = timedelta(days=days)
    with db.transaction() as session:
        for model, columns in AGED.items():
            for row in session.scalars(select(model)):
                for column in columns:
                    if getattr(row, column) is not None:
                        setattr(row, column, getattr(row, column) - delta)


def close_vacancy(db: Database, vacancy_id: uuid.UUID) -> None:
    """Closed now, as POST /v1/vacancies/{id}/close closes it."""
    with db.transaction() as session:
        vacancy = session.get(Vacancy, vacancy_id)
        assert vacancy is not None
        vacancy.is_open, vacancy.closed_at = False, utcnow()


def run_retention_commands(db: Database) -> list[CommandRecord]:
    """status_worker runs the purges the sweep accepted; their records."""
    with db.transaction() as session:
        ids = list(
            session.scalars(
                select(CommandRecord.id).where(
                    CommandRecord.source == "retention", CommandRecord.status == "accepted"
                )
            )
        )
    for command_id in ids:
        run_command(db, task_message(db, str(command_id)), HANDLERS["purge_application"])
    with db.transaction() as session:
        records = list(session.scalars(select(CommandRecord).where(CommandRecord.id.in_(ids))))
        session.expunge_all()
        return records
