"""Reading lists of applications a page at a time, on PostgreSQL through the real API process."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import update

from shared.db.database import Database
from shared.db.models import Application
from shared.db.types import utcnow
from tests.conftest import Tenant, make_tenant
from tests.factories import open_vacancy
from tests.read_rows import applications

pytestmark = pytest.mark.integration


def _walk(api_url: str, tenant: Tenant, path: str, **params: Any) -> list[list[str]]:
    """The ids on every page of a list, following ``next_cursor`` until it is null."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while len(pages) < 20:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = httpx.get(f"{api_url}{path}", params=query, headers=tenant.headers, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the cursor never ends")


def test_applications_are_paged_on_postgresql_without_duplicates_or_gaps(
    pg: Database, api_url: str
) -> None:
    # Given seven applications, two of them deleted, next to another organisation's
    tenant, other = make_tenant(pg, name="Acme"), make_tenant(pg, name="Other")
    vacancy = open_vacancy(pg, tenant.organisation_id)
    ids = applications(pg, tenant.organisation_id, vacancy, 7)
    applications(pg, other.organisation_id, open_vacancy(pg, other.organisation_id), 4)
    deleted = sorted(ids)[1::3]
    with pg.transaction() as session:
        session.execute(
            update(Application).where(Application.id.in_(deleted)).values(deleted_at=utcnow())
        )
    # When the recruiter walks the lists two at a time
    active = _walk(api_url, tenant, "/v1/applications", limit=2, vacancy_id=str(vacancy))
    gone = _walk(api_url, tenant, "/v1/applications/deleted", limit=2)
    # Then every application of the organisation is on exactly one list, once, in id order
    assert [len(page) for page in active] == [2, 2, 1]
    assert [i for page in active for i in page] == sorted(str(i) for i in set(ids) - set(deleted))
    assert [i for page in gone for i in page] == sorted(str(i) for i in deleted)
    # And a malformed cursor is a problem naming it
    bad = httpx.get(f"{api_url}/v1/applications", params={"cursor": "nope"}, headers=tenant.headers)
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["cursor"]
