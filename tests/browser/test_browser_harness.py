"""The browser harness works: keyboard-only use, axe, and screenshots, on a static site."""

from __future__ import annotations

import functools
import struct
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import serious_violations
from tests.browser.conftest import DESKTOP, PHONE

pytestmark = pytest.mark.browser

RATINGS = "\n".join(
    f'<label><input type="radio" name="rating" value="{n}" required> {n} van 7 sterren</label>'
    for n in range(1, 8)
)

SITE = {
    # No script may run (CSP): the form works without JavaScript, and axe must still run.
    "form.html": f"""<!doctype html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="script-src 'none'">
<title>Beoordeling</title>
<style>
  body {{ font-family: sans-serif; margin: 2rem; color: #1a1a1a; }}
  fieldset {{ display: flex; flex-wrap: wrap; gap: .5rem 1rem; border: 1px solid #555; }}
  label {{ white-space: nowrap; }}
  :focus-visible {{ outline: 3px solid #0b57d0; outline-offset: 2px; }}
  button {{ margin-top: 1rem; padding: .5rem 1.5rem; }}
</style>
</head>
<body>
<main>
<h1>Beoordeel de kandidaat</h1>
<form action="saved.html" method="get">
<fieldset>
<legend>Communicatie</legend>
{RATINGS}
</fieldset>
<button type="submit">Opslaan</button>
</form>
</main>
</body>
</html>
""",
    "saved.html": """<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>Opgeslagen</title></head>
<body><main><h1>Beoordeling opgeslagen</h1></main></body></html>
""",
    # Deliberately inaccessible: an image without alt text, an input without a label.
    "bad.html": """<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>Slecht</title></head>
<body><main><h1>Slecht</h1><img src="logo.png"><input type="text" name="naam"></main></body>
</html>
""",
}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keeps the request log out of the test output."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The static pages, served on a free loopback port; yields the base URL."""
    root = tmp_path_factory.mktemp("site")
    for name, html in SITE.items():
        (root / name).write_text(html, encoding="utf-8")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header; fails if the file is no PNG."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_a_rating_is_picked_and_saved_with_the_keyboard_alone(page: Page, site: str) -> None:
    page.goto(f"{site}/form.html")

    page.keyboard.press("Tab")
    expect(page.get_by_label("1 van 7 sterren")).to_be_focused()
    page.keyboard.press("Space")
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    four = page.get_by_label("4 van 7 sterren")
    expect(four).to_be_focused()
    expect(four).to_be_checked()
    expect(page.locator("input[name=rating]:checked")).to_have_count(1)

    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Opslaan")).to_be_focused()
    page.keyboard.press("Enter")

    page.wait_for_url("**/saved.html?*")
    assert parse_qs(urlsplit(page.url).query) == {"rating": ["4"]}
    expect(page.get_by_role("heading", level=1)).to_have_text("Beoordeling opgeslagen")


def test_the_rating_form_has_no_serious_accessibility_violations(page: Page, site: str) -> None:
    page.goto(f"{site}/form.html")

    assert serious_violations(page) == []


def test_axe_reports_an_image_without_alt_text_and_an_unlabelled_input(
    page: Page, site: str
) -> None:
    page.goto(f"{site}/bad.html")

    violations = {v["id"]: v for v in serious_violations(page)}

    assert {"image-alt", "label"} <= violations.keys(), violations
    assert violations["image-alt"]["impact"] == "critical"
    assert violations["image-alt"]["targets"] == [["img"]]
    assert violations["label"]["targets"] == [["input"]]


def test_screenshots_at_desktop_and_phone_width_are_written_as_pngs(
    page: Page, site: str, screenshot_dir: Path
) -> None:
    page.goto(f"{site}/form.html")
    for name, viewport in {"desktop": DESKTOP, "phone": PHONE}.items():
        path = screenshot_dir / f"harness-form-{name}.png"
        path.unlink(missing_ok=True)
        page.set_viewport_size(viewport)
        page.screenshot(path=path, full_page=True)

        width, height = png_size(path)
        assert width == viewport["width"]
        assert height >= viewport["height"]
