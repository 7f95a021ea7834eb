"""A purge also erases the dead letters that can hold the purged application's personal data."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from shared.db.database import Database
from shared.db.models import Application, DeadLetter, ScheduledJob
from shared.messaging.dead_letters import ERASED_BODY, record_dead_letter
from tests.conftest import make_tenant
from tests.factories import open_vacancy, register_body
from tests.workflow import run

PERSONAL = "canary-jan.jansen@example.org"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Database:
    db: Database = request.getfixturevalue("db" if request.param == "sqlite" else "pg")
    return db


def _letter(db: Database, organisation_id: uuid.UUID, body: str, **fields: object) -> uuid.UUID:
    with db.transaction() as session:
        letter = record_dead_letter(
            session,
            source=str(fields.pop("source", "ingress")),
            queue="commands",
            reason=f"invalid command envelope: note too long ({PERSONAL})",
            body=body,
            organisation_id=organisation_id,
            **fields,  # type: ignore[arg-type]
        )
        return letter.id


def _letters(db: Database) -> dict[uuid.UUID, DeadLetter]:
    with db.transaction() as session:
        rows = session.scalars(select(DeadLetter)).all()
        for row in rows:
            session.expunge(row)
        return {row.id: row for row in rows}


def _delete_and_purge(database: Database, org: uuid.UUID, app: uuid.UUID) -> None:
    for step in ("delete_application", "purge_application"):
        assert run(database, org, {"type": step, "application_id": str(app)}).status == "succeeded"


def test_a_purge_erases_the_dead_letters_about_the_application_and_keeps_the_others(
    database: Database,
) -> None:
    tenant = make_tenant(database)
    org = tenant.organisation_id
    vacancy = open_vacancy(database, org)
    registered = run(database, org, register_body(vacancy, send_receipt=True))
    app = registered.application_id
    assert app is not None
    with database.transaction() as session:
        receipt_job = session.scalars(
            select(ScheduledJob.id).where(ScheduledJob.application_id == app)
        ).one()
    other = run(database, org, register_body(vacancy)).application_id
    withdrawn = run(database, org, {"type": "withdraw_application", "application_id": str(app)})

    # An upstream message about the application that could not be accepted ...
    about_it = _letter(
        database,
        org,
        json.dumps({"command": {"application_id": str(app), "note": PERSONAL}}),
    )
    # ... a failed delivery of one of its commands, whose body holds ids only ...
    its_command = _letter(
        database,
        org,
        json.dumps({"args": [{"command_id": str(withdrawn.id)}]}),
        source="worker",
        command_id=withdrawn.id,
    )
    # ... a mail job of it that failed for good, the recipient in the reason ...
    its_mail = _letter(
        database,
        org,
        json.dumps({"args": [{"job_id": str(receipt_job), "organisation_id": str(org)}]}),
        source="worker",
    )
    # ... and letters it has nothing to do with: another application, another organisation.
    unrelated = _letter(
        database, org, json.dumps({"command": {"application_id": str(other), "x": PERSONAL}})
    )
    elsewhere_org = make_tenant(database).organisation_id
    elsewhere = _letter(
        database,
        elsewhere_org,
        json.dumps({"command": {"application_id": str(app), "x": PERSONAL}}),
    )

    _delete_and_purge(database, org, app)

    letters = _letters(database)
    for erased in (about_it, its_command, its_mail):
        assert letters[erased].body == ERASED_BODY
        assert PERSONAL not in letters[erased].reason
        assert letters[erased].queue == "commands"  # the trace that something failed stays
    for kept in (unrelated, elsewhere):
        assert PERSONAL in letters[kept].body and PERSONAL in letters[kept].reason


def test_erasing_the_applicant_erases_the_dead_letters_that_name_the_applicant(
    database: Database,
) -> None:
    tenant = make_tenant(database)
    org = tenant.organisation_id
    vacancy = open_vacancy(database, org)
    app = run(database, org, register_body(vacancy)).application_id
    assert app is not None
    with database.transaction() as session:
        found = session.get(Application, app)
        assert found is not None
        applicant = found.applicant_id
    naming_applicant = _letter(
        database, org, json.dumps({"command": {"applicant_id": str(applicant), "x": PERSONAL}})
    )

    _delete_and_purge(database, org, app)

    assert _letters(database)[naming_applicant].body == ERASED_BODY
