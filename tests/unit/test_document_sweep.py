"""The sweep of stored documents: unused CVs and files no document names are erased,
everything in use or just written is kept."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from shared.db.database import Database
from shared.db.models import Document
from shared.documents.storage import LocalDirectoryStorage
from shared.documents.sweep import sweep_documents
from tests.conftest import Tenant
from tests.factories import new_key
from tests.seeds import seed_reference
from tests.workflow import run

CV = b"%PDF-1.4\n%cv\n%%EOF\n"


def _upload(client: TestClient, tenant: Tenant) -> str:
    response = client.post(
        "/v1/documents",
        params={"filename": "cv.pdf"},
        content=CV,
        headers={**tenant.headers, "Idempotency-Key": new_key(), "Content-Type": "application/pdf"},
    )
    assert response.status_code == 201
    return str(response.json()["id"])


def _age(storage: LocalDirectoryStorage, key: str, hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(storage.root / key, (then, then))


def test_a_cv_no_registration_used_in_48_hours_is_erased_and_a_used_one_is_kept(
    client: TestClient, db: Database, tenant: Tenant, storage: LocalDirectoryStorage
) -> None:
    unused, used = _upload(client, tenant), _upload(client, tenant)
    ref = seed_reference(db, tenant.organisation_id)
    run(
        db,
        tenant.organisation_id,
        {
            "type": "register_application",
            "vacancy_id": str(ref.vacancy_id),
            "applicant": {"name": "Ann de Vries", "email": "ann@example.org"},
            "cv_document_id": used,
        },
    )
    with db.transaction() as session:
        session.execute(update(Document).values(created_at=datetime.now(UTC) - timedelta(hours=49)))
        keys = {
            row.id: row.storage_key
            for row in session.execute(select(Document.id, Document.storage_key))
        }

    swept = sweep_documents(db, storage)

    assert swept.unused_cvs == 1
    with db.transaction() as session:
        assert [str(i) for i in session.scalars(select(Document.id))] == [used]
    assert not storage.exists(keys[uuid.UUID(unused)])
    assert storage.exists(keys[uuid.UUID(used)])


def test_a_file_no_document_names_is_erased_once_it_is_an_hour_old(
    db: Database, tenant: Tenant, storage: LocalDirectoryStorage
) -> None:
    for key in ("org/orphan-old.pdf", "org/orphan-new.pdf"):
        storage.put(key, CV, content_type="application/pdf")
    _age(storage, "org/orphan-old.pdf", hours=2)

    swept = sweep_documents(db, storage)

    assert swept.orphan_files == 1
    assert not storage.exists("org/orphan-old.pdf")
    assert storage.exists("org/orphan-new.pdf")  # its row may be about to commit


def test_a_young_unused_cv_and_an_old_file_with_a_row_are_kept(
    client: TestClient, db: Database, tenant: Tenant, storage: LocalDirectoryStorage
) -> None:
    cv = _upload(client, tenant)
    with db.transaction() as session:
        key = session.scalars(select(Document.storage_key)).one()
    _age(storage, key, hours=5)

    swept = sweep_documents(db, storage)

    assert (swept.unused_cvs, swept.orphan_files) == (0, 0)
    assert storage.exists(key)
    assert client.get(f"/v1/documents/{cv}", headers=tenant.headers).status_code == 200
