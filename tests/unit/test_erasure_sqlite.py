"""In the embedded mode, a purge leaves the purged person's data in neither the SQLite
file nor its write-ahead log (no free page, no old page version holds it)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from shared.db.database import Database
from tests.conftest import Tenant
from tests.factories import open_vacancy, register_body
from tests.workflow import run

CANARIES = (b"Zwaantje Canarisvogel", b"zwaantje.canary@example.org", b"+31 6 1234 9876")


def _files(db: Database) -> dict[str, bytes]:
    path = Path(str(make_url(str(db.engine.url)).database))
    found = {p.name: p.read_bytes() for p in (path, path.with_name(path.name + "-wal"))}
    return {name: data for name, data in found.items() if data}


def test_a_purged_applicant_is_in_neither_the_sqlite_file_nor_its_log(
    db: Database, tenant: Tenant
) -> None:
    # Given an application whose applicant, text and notes carry canaries, changed a few
    # times (so older versions of its rows were written too)
    body = register_body(
        open_vacancy(db, tenant.organisation_id),
        applicant={
            "name": CANARIES[0].decode(),
            "email": CANARIES[1].decode(),
            "phone": CANARIES[2].decode(),
        },
        application_text="Zwaantje Canarisvogel would love to join.",
    )
    application = run(db, tenant.organisation_id, body).application_id
    for step in (
        {"type": "save_application", "note": "Zwaantje Canarisvogel, talent pool"},
        {"type": "withdraw_application", "note": "Zwaantje Canarisvogel withdrew"},
        {"type": "delete_application"},
    ):
        record = run(db, tenant.organisation_id, {**step, "application_id": str(application)})
        assert record.status == "succeeded", record.outcome_message
    assert any(c in data for c in CANARIES for data in _files(db).values())

    # When it is purged
    purged = run(
        db,
        tenant.organisation_id,
        {"type": "purge_application", "application_id": str(application)},
    )

    # Then no byte of the database's files holds a canary
    assert purged.status == "succeeded"
    files = _files(db)
    print({name: len(data) for name, data in files.items()})  # noqa: T201 - the sizes read
    assert [(name, c) for name, data in files.items() for c in CANARIES if c in data] == []
