"""Accessibility checks with axe-core, bundled by ``axe-playwright-python``.

The script is evaluated over the DevTools protocol rather than added as a script tag,
so a page's Content-Security-Policy cannot block it.
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

BLOCKING_IMPACTS = frozenset({"serious", "critical"})

_axe = Axe()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """Runs axe on the current page; returns its serious and critical violations.

    Each is ``{"id", "impact", "help", "targets"}``, ``targets`` holding the CSS selectors
    of the failing nodes, so that an assertion message says what is wrong and where.
    """
    results = _axe.run(page, options={"resultTypes": ["violations"]})
    violations: list[dict[str, Any]] = results.response["violations"]
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]],
        }
        for violation in violations
        if violation["impact"] in BLOCKING_IMPACTS
    ]
