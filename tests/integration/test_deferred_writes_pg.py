"""Deferred writes on PostgreSQL: sent at commit as one statement of data-modifying CTEs,
each write with its own parameters, on the driver path, or on SQLAlchemy's when one of
the writes needs it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Table, bindparam, select, update

from shared.db.database import Database
from shared.db.deferred_writes import append, defer
from shared.db.models import ApplicationEvent, ScheduledJob
from shared.db.types import utcnow
from shared.ids import new_id
from tests.conftest import make_tenant
from tests.sql_log import statements

pytestmark = pytest.mark.integration

_jobs: Table = ScheduledJob.__table__  # type: ignore[assignment]
_CANCEL_BY_PURPOSE = (
    update(_jobs)
    .where(
        _jobs.c.application_id == bindparam("application"),
        _jobs.c.purpose.in_(bindparam("purposes", expanding=True)),  # not on the driver path
    )
    .values(status="cancelled", cancelled_at=bindparam("now"))
)
_RESCHEDULE = update(_jobs).where(_jobs.c.id == bindparam("job")).values(due_at=bindparam("due_at"))


def _event(organisation_id: UUID, application_id: UUID, i: int) -> dict[str, Any]:
    return {
        "id": new_id(),
        "organisation_id": organisation_id,
        "application_id": application_id,
        "event_type": f"application.note_{i}",
        "note": f"note {i}",
    }  # occurred_at left out: the column's Python default


def _jobs_for(db: Database, organisation_id: UUID, application_id: UUID) -> dict[str, UUID]:
    jobs = {
        purpose: ScheduledJob(
            organisation_id=organisation_id,
            application_id=application_id,
            kind="mail",
            purpose=purpose,
            payload={},
            due_at=utcnow(),
        )
        for purpose in ("receipt", "rejection")
    }
    with db.transaction() as session:
        session.add_all(jobs.values())
        session.flush()
        return {purpose: job.id for purpose, job in jobs.items()}


def _stored(db: Database) -> tuple[dict[str, str | None], dict[str, str]]:
    with db.transaction() as session:
        notes = session.execute(select(ApplicationEvent.event_type, ApplicationEvent.note))
        jobs = session.execute(select(ScheduledJob.purpose, ScheduledJob.status))
        return {row.event_type: row.note for row in notes}, {
            row.purpose: row.status for row in jobs
        }


@pytest.mark.parametrize("path", ["driver", "sqlalchemy"])
def test_writes_of_one_template_keep_their_own_values_in_the_one_statement(
    pg: Database, path: str
) -> None:
    tenant = make_tenant(pg)
    application_id = new_id()
    jobs = _jobs_for(pg, tenant.organisation_id, application_id)
    later = utcnow().replace(year=2030)

    with statements(pg) as sent, pg.transaction() as session:
        for i in range(3):  # one INSERT template, three times
            append(session, ApplicationEvent, _event(tenant.organisation_id, application_id, i))
        defer(session, _RESCHEDULE, {"job": jobs["receipt"], "due_at": later})
        if path == "sqlalchemy":  # an expanding IN: the batch goes through SQLAlchemy
            cancel = {"application": application_id, "purposes": ["rejection"], "now": utcnow()}
            defer(session, _CANCEL_BY_PURPOSE, cancel)

    assert [sql for sql in sent if "deferred_0" in sql] == [sent[-1]]  # one statement
    assert ("$1" in sent[-1]) == (path == "driver")  # PostgreSQL's placeholders: the driver's
    notes, statuses = _stored(pg)
    assert notes == {f"application.note_{i}": f"note {i}" for i in range(3)}
    expected = "cancelled" if path == "sqlalchemy" else "pending"
    assert statuses == {"receipt": "pending", "rejection": expected}
    with pg.transaction() as session:
        assert session.get(ScheduledJob, jobs["receipt"]).due_at == later  # type: ignore[union-attr]
