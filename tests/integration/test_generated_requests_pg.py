"""Every operation of the OpenAPI document, driven with generated requests (schemathesis)
against the API in-process on PostgreSQL, authenticated with a real API key.

A response fails the test when it is a 5xx, has a status or a content type the document
does not list for the operation, or a body that does not match the documented schema.
Path parameters that name a seeded row (an application, a vacancy, a review link, ...)
point at it, so the answers include full views and pages, not only 404s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from services.command_api.app import create_app
from shared.db.database import Database
from shared.settings import Settings
from tests.conftest import Tenant, make_tenant, truncate_all
from tests.reviews import request_review

pytestmark = pytest.mark.integration

EXAMPLES = 12  # per operation (examples and fuzzing phases): about 30 s for all of them here
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"max-examples": EXAMPLES, "database": "none"},
        "phases": {"coverage": {"enabled": False}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    }
)
# Bodies for the upload types: their magic bytes, then anything.
for media_type, magic in {
    "application/pdf": b"%PDF-1.7\n",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": b"PK\x03\x04",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}.items():
    schemathesis.openapi.media_type(
        media_type, st.tuples(st.just(magic), st.binary(max_size=256)).map(b"".join)
    )

# The document as the application serves it (never connects to the database).
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(Settings(), Database("sqlite://")), config=CONFIG
)


@dataclass(frozen=True)
class Live:
    app: FastAPI
    tenant: Tenant
    ids: dict[str, str]  # path parameter -> a seeded row's id or token


@pytest.fixture(scope="module")
def live(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The API on this session's PostgreSQL database, with an organisation's reference
    data, two applications and a panel review whose link is known."""
    db = Database(postgres_url, pool_size=4)
    truncate_all(db)
    tenant = make_tenant(db)
    review = request_review(db, tenant)
    ref = review.reference
    ids = {
        "application_id": str(review.applications[0]),
        "vacancy_id": str(ref.vacancy_id),
        "department_id": str(ref.department_id),
        "position_id": str(ref.position_id),
        "reason_id": str(ref.reason_id),
        "review_id": str(review.review_id),
        "token": review.tokens["mark@example.org"],
    }
    documents = tmp_path_factory.mktemp("documents")
    app = create_app(Settings(database_url=postgres_url, documents_dir=documents), db)
    yield Live(app, tenant, ids)
    db.dispose()


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_its_openapi_document_says(case: Any, live: Live) -> None:
    # Given a generated request, aimed at the seeded rows where it names one
    for name in case.path_parameters or {}:
        if name in live.ids:
            case.path_parameters[name] = live.ids[name]
    # When it is sent with the organisation's API key
    # Then the answer is no 5xx, and its status, content type and body are documented
    case.call_and_validate(app=live.app, headers=live.tenant.headers)
