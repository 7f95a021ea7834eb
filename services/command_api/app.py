"""The command API: FastAPI application factory."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from services.command_api.body_limits import BodySizeLimit
from services.command_api.openapi import CommandApi
from services.command_api.problems import install_problem_handlers
from services.command_api.routes import (
    applications,
    assets,
    bulk,
    candidate_auth,
    commands,
    document_templates,
    documents,
    email_templates,
    emails,
    employees,
    health,
    interview_responses,
    panel_reviews,
    reference,
    retention,
    review_page,
    talent_pool,
    vacancies,
)
from services.command_api.storable_input import refuse_unstorable_input
from shared.db.database import Database
from shared.documents.storage import storage_from_settings
from shared.settings import Settings

DESCRIPTION = """
Recruiter actions as asynchronous commands.

* `POST /v1/commands` accepts a command and answers `202` with its id; the outcome
  follows on `GET /v1/commands/{id}`.
* Authenticate with an organisation's API key: `Authorization: Bearer wv_...`.
  Everything is scoped to that organisation; other organisations' ids answer 404.
* Every write needs an `Idempotency-Key` header (previews, candidate logins and the
  pages people answer through a link, which store nothing to replay, do not; each
  operation says whether it takes one). The first response to a key is kept
  for **RETENTION hours** and replayed (with `Idempotency-Replayed: true`) for the
  same request; the same key with a different body answers 422, and while the first
  request is still running, 409.
* Errors are `application/problem+json` with a list of field errors; every status an
  operation can answer is listed with it. Text with NUL or a lone surrogate, which cannot
  be stored, is refused with 422 naming the field.
* Long lists (`/v1/applications`, `/v1/employees`) come a page at a time: pass a
  page's `next_cursor` as `cursor` to get the next; it is null on the last page.
"""


def create_app(settings: Settings, db: Database) -> FastAPI:
    app = CommandApi(
        title="werving command API",
        version="1",
        description=DESCRIPTION.replace("RETENTION", str(settings.idempotency_retention_hours)),
        dependencies=[Depends(refuse_unstorable_input)],
    )
    app.state.settings = settings
    app.state.db = db
    app.state.storage = storage_from_settings(settings)
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimit)
    for module in (
        commands,
        bulk,
        applications,
        emails,
        documents,
        assets,
        vacancies,
        reference,
        employees,
        email_templates,
        document_templates,
        panel_reviews,
        retention,
        health,
    ):
        app.include_router(module.router)
    app.include_router(candidate_auth.router)
    app.include_router(interview_responses.router)
    app.include_router(review_page.router)
    app.include_router(talent_pool.router)
    return app
