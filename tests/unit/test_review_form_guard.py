"""The review form saves only what its own page posts: a token bound to the link and the
server's secret, and a browser's Origin and Sec-Fetch-Site, when sent, of this site."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from services.command_api.app import create_app
from shared.db.database import Database
from shared.db.models import PanelRating
from shared.settings import Settings
from tests.conftest import Tenant
from tests.reviews import request_review

MARK, LOTTE = "mark@example.org", "lotte@extern.example"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _ratings(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(PanelRating)) or 0)


def _form_token(client: TestClient, token: str) -> str:
    page = client.get(f"/review/{token}")
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


def _post(client: TestClient, token: str, form: dict[str, str], **headers: str) -> httpx.Response:
    response: httpx.Response = client.post(
        f"/review/{token}", data=form, headers=headers, follow_redirects=False
    )
    return response


def test_a_planted_cookie_and_field_pair_is_refused(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given a reviewer's link, and an attacker who plants a cookie and a form field alike
    review = request_review(db, tenant)
    token, ann = review.tokens[MARK], review.applications[0]
    client.cookies.set("werving_review_csrf", "X", path="/review")
    # When the form is posted with that pair
    forged = _post(client, token, {"csrf": "X", f"stars-{ann}": "7"})
    # Then the friendly refusal page answers 403, and nothing is saved
    assert forged.status_code == 403
    assert forged.headers["content-type"].startswith("text/html")
    assert "Het formulier is verlopen" in forged.text
    assert _ratings(db) == 0


def test_the_token_of_another_reviewers_page_does_not_open_this_form(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given two reviewers' links, and the form token of Lotte's page
    review = request_review(db, tenant)
    ann = review.applications[0]
    lottes = _form_token(client, review.tokens[LOTTE])
    # When Mark's form is posted with it
    forged = _post(client, review.tokens[MARK], {"csrf": lottes, f"stars-{ann}": "7"})
    # Then it is refused: the token is bound to the link
    assert forged.status_code == 403
    assert _ratings(db) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:8001"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
    ids=["other-site", "opaque-origin", "other-port", "cross-site-fetch", "same-site-fetch"],
)
def test_a_form_from_another_origin_is_refused_even_with_the_right_token(
    client: TestClient, db: Database, tenant: Tenant, headers: dict[str, str]
) -> None:
    # Given the right form token of the reviewer's own page
    review = request_review(db, tenant)
    token, ann = review.tokens[MARK], review.applications[0]
    csrf = _form_token(client, token)
    # When the browser says the form came from elsewhere
    refused = _post(client, token, {"csrf": csrf, f"stars-{ann}": "7"}, **headers)
    # Then it is refused, and nothing is saved
    assert refused.status_code == 403
    assert _ratings(db) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        {"Origin": "http://127.0.0.1:8000"},
        {"Sec-Fetch-Site": "none"},
    ],
    ids=["no-browser-headers", "own-host", "public-base-url", "typed-by-the-person"],
)
def test_the_pages_own_form_is_saved(
    client: TestClient, db: Database, tenant: Tenant, settings: Settings, headers: dict[str, str]
) -> None:
    # Given the reviewer's page (served as http://testserver; public at the default URL)
    assert settings.public_base_url == "http://127.0.0.1:8000"
    review = request_review(db, tenant)
    token, ann = review.tokens[MARK], review.applications[0]
    csrf = _form_token(client, token)
    # When its form is posted from this site
    saved = _post(client, token, {"csrf": csrf, f"stars-{ann}": "6"}, **headers)
    # Then it is saved and the browser goes back to the page
    assert saved.status_code == 303
    assert _ratings(db) == 1


def test_the_form_token_depends_on_the_server_secret(
    db: Database, tenant: Tenant, settings: Settings
) -> None:
    # Given the same link served by servers with different link secrets
    review = request_review(db, tenant)
    token = review.tokens[MARK]
    tokens = []
    for secret in ("one-secret", "another-secret"):
        configured = settings.model_copy(update={"link_secret": SecretStr(secret)})
        with TestClient(create_app(configured, db)) as client:
            tokens.append(_form_token(client, token))
    # Then the pages carry different form tokens, neither of which is the link's token
    assert tokens[0] != tokens[1]
    assert token not in tokens
