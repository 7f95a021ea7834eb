"""The panel review page in a real browser (Debian's chromium through Playwright): a
reviewer rates with the keyboard alone, comes back and sees the values; after the due
date the page refuses; axe finds nothing serious; screenshots at desktop and phone width."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page
from sqlalchemy import update

from services.command_api.app import create_app
from shared.db.database import Database
from shared.db.models import PanelReview
from shared.settings import Settings
from tests.browser.axe import serious_violations
from tests.browser.conftest import DESKTOP, PHONE
from tests.conftest import fresh_sqlite, make_tenant
from tests.processes import free_port
from tests.reviews import Review, request_review

pytestmark = pytest.mark.browser

MARK = "mark@example.org"


@dataclass(frozen=True)
class Site:
    base: str
    db: Database
    review: Review

    def link(self, email: str = MARK) -> str:
        return f"{self.base}/review/{self.review.tokens[email]}"


@pytest.fixture
def site(migrated_sqlite: Path, tmp_path: Path) -> Iterator[Site]:
    """The API on a free loopback port (SQLite), with a review of two candidates."""
    url = fresh_sqlite(migrated_sqlite, tmp_path)
    db = Database(url)
    settings = Settings(database_url=url, documents_dir=tmp_path / "documents")
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, db), host="127.0.0.1", port=port, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    tenant = make_tenant(db, name="Zorggroep Noord")
    # The invitations go out through asyncio (aiosmtplib); Playwright's sync API holds an
    # event loop in this thread, so they are sent from another.
    with ThreadPoolExecutor(max_workers=1) as sender:
        review = sender.submit(request_review, db, tenant).result()
    try:
        yield Site(f"http://127.0.0.1:{port}", db, review)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        db.dispose()


def _focused(page: Page) -> str:
    """What has the keyboard focus: ``name=value`` of an input, or the element's tag."""
    return str(
        page.evaluate(
            "() => { const e = document.activeElement;"
            " return e.name ? `${e.name}=${e.value}` : e.tagName.toLowerCase(); }"
        )
    )


def test_a_reviewer_rates_two_candidates_with_the_keyboard_and_sees_them_after_a_reload(
    page: Page, site: Site
) -> None:
    ann, bram = site.review.applications
    page.goto(site.link())

    page.keyboard.press("Tab")  # the language link
    page.keyboard.press("Tab")  # Ann's star group: its first option
    assert _focused(page) == f"stars-{ann}=1"
    for _ in range(3):
        page.keyboard.press("ArrowRight")  # moves and selects: 2, 3, 4
    assert _focused(page) == f"stars-{ann}=4"
    page.keyboard.press("Tab")  # Ann's comment
    page.keyboard.type("Sterke motivatie, goede ervaring.")
    page.keyboard.press("Tab")  # Bram's star group
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert _focused(page) == f"stars-{bram}=6"
    page.keyboard.press("Tab")  # Bram's comment
    page.keyboard.press("Tab")  # Save
    assert _focused(page) == "button"
    page.keyboard.press("Enter")
    page.wait_for_load_state()

    assert page.get_by_role("status").inner_text().startswith("Uw beoordelingen zijn opgeslagen")
    page.reload()
    assert page.get_by_label("4 van 7 sterren").first.is_checked()
    assert page.locator(f'input[name="stars-{bram}"][value="6"]').is_checked()
    assert page.locator(f'textarea[name="comment-{ann}"]').input_value() == (
        "Sterke motivatie, goede ervaring."
    )
    group = page.get_by_role("group", name="Uw beoordeling van Ann de Vries")
    assert group.get_by_role("radio").count() == 7


def test_after_the_due_date_the_page_refuses_changes(page: Page, site: Site) -> None:
    ann = site.review.applications[0]
    page.goto(site.link())
    page.get_by_label("5 van 7 sterren").first.check()
    with site.db.transaction() as session:
        session.execute(update(PanelReview).values(due_at=datetime.now(UTC) - timedelta(minutes=1)))

    response = page.expect_navigation()
    with response as navigation:
        page.get_by_role("button", name="Beoordelingen opslaan").click()

    assert navigation.value is not None and navigation.value.status == 410
    assert "Wijzigen kan niet meer" in page.content()
    assert page.locator(f'input[name="stars-{ann}"]').count() == 0
    assert page.goto(site.link()) is not None
    assert page.get_by_role("heading", level=1).inner_text() == "Deze link werkt niet"


def test_the_page_and_its_error_page_have_no_serious_accessibility_violations(
    page: Page, site: Site
) -> None:
    for url in (site.link(), f"{site.link()}?lang=en", f"{site.base}/review/{'x' * 40}"):
        page.goto(url)
        assert serious_violations(page) == [], url


def test_screenshots_at_desktop_and_phone_width(
    page: Page, site: Site, screenshot_dir: Path
) -> None:
    page.goto(site.link())
    page.get_by_label("6 van 7 sterren").first.check()
    shots = []
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        path = screenshot_dir / f"review-page-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    for path in shots:
        header = path.read_bytes()[:24]
        assert header.startswith(b"\x89PNG") and path.stat().st_size > 10_000
    # Nothing on a phone is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
