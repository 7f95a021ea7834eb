"""Saving ratings on PostgreSQL when requests race: a double click stores one rating, and a
close that commits first wins over a save."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from services.command_api.app import create_app
from shared.db.database import Database
from shared.db.models import PanelRating
from shared.settings import Settings
from tests.conftest import make_tenant
from tests.processes import free_port
from tests.reviews import Review, request_review
from tests.workflow import run

pytestmark = pytest.mark.integration


@pytest.fixture
def api(pg: Database, postgres_url: str, tmp_path: Path) -> Iterator[str]:
    settings = Settings(database_url=postgres_url, documents_dir=tmp_path / "documents")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, pg), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _ratings(pg: Database) -> int:
    with pg.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(PanelRating)) or 0)


def _put(api: str, review: Review, stars: int) -> int:
    body = {"ratings": [{"application_id": str(review.applications[0]), "stars": stars}]}
    token = review.tokens["mark@example.org"]
    return httpx.put(f"{api}/review/{token}/ratings", json=body, timeout=30).status_code


def test_eight_first_saves_at_once_store_one_rating(pg: Database, api: str) -> None:
    review = request_review(pg, make_tenant(pg))

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda stars: _put(api, review, stars), range(1, 8)))

    assert statuses == [200] * 7
    assert _ratings(pg) == 1


def test_a_save_after_the_review_is_closed_is_refused(pg: Database, api: str) -> None:
    tenant = make_tenant(pg)
    review = request_review(pg, tenant)
    assert _put(api, review, 5) == 200

    run(
        pg,
        tenant.organisation_id,
        {"type": "close_panel_review", "review_id": str(review.review_id)},
    )

    assert _put(api, review, 2) == 410
    with pg.transaction() as session:
        assert session.scalars(select(PanelRating.stars)).all() == [5]
