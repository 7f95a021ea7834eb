"""The careers portal sets a candidate's password with a one-time link, then logs them in.

Tokens come from the mail worker's own issuing code, as in a credentials email; the
clock is the API's injectable one, moved forward where a test needs time to pass.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from structlog.testing import capture_logs

from services.command_api.api_keys import Scope
from services.command_api.candidate_passwords import TokenRefused, set_password
from services.command_api.routes.candidate_auth import get_clock
from services.mail_worker.credentials import issue_set_password_link
from shared.db.database import Database
from shared.db.models import Applicant, CandidateAccount, SetPasswordToken
from tests.conftest import Tenant, make_tenant
from tests.read_rows import every_value

SET = "/v1/candidate-auth/set-password"
LOGIN = "/v1/candidate-auth/login"
PASSWORD = "correct horse battery staple"
START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock(client: TestClient) -> Iterator[Clock]:
    fake = Clock()
    app = cast(FastAPI, client.app)
    app.dependency_overrides[get_clock] = lambda: fake
    yield fake
    app.dependency_overrides.clear()


@dataclass(frozen=True)
class Link:
    token: str
    username: str
    applicant_id: uuid.UUID


def _link(db: Database, tenant: Tenant, email: str = "ann@example.org") -> Link:
    """A set-password link as the credentials email carries it, issued at START."""
    with db.transaction() as session:
        applicant = session.scalar(
            select(Applicant).where(
                Applicant.organisation_id == tenant.organisation_id, Applicant.email == email
            )
        )
        if applicant is None:
            applicant = Applicant(
                organisation_id=tenant.organisation_id, name="Ann de Vries", email=email
            )
            session.add(applicant)
            session.flush()
        link = issue_set_password_link(
            session, applicant, base_url="https://careers.example.org", now=START
        )
        return Link(link.token, link.username, applicant.id)


def _set(
    client: TestClient, tenant: Tenant, token: str, password: str = PASSWORD
) -> httpx.Response:
    response: httpx.Response = client.post(
        SET, json={"token": token, "password": password}, headers=tenant.headers
    )
    return response


def _login(
    client: TestClient, tenant: Tenant, username: str, password: str = PASSWORD
) -> httpx.Response:
    response: httpx.Response = client.post(
        LOGIN, json={"username": username, "password": password}, headers=tenant.headers
    )
    return response


def _account(db: Database, applicant_id: uuid.UUID) -> CandidateAccount:
    with db.transaction() as session:
        account = session.scalars(
            select(CandidateAccount).where(CandidateAccount.applicant_id == applicant_id)
        ).one()
        session.expunge(account)
        return account


# -- set a password ----------------------------------------------------------------------


def test_a_link_sets_the_password_once_and_is_refused_the_second_time(
    client: TestClient, db: Database, tenant: Tenant, clock: Clock
) -> None:
    link = _link(db, tenant)

    first = _set(client, tenant, link.token)
    assert first.status_code == 204
    account = _account(db, link.applicant_id)
    assert account.password_hash is not None and account.password_hash.startswith("$argon2id$")
    assert account.password_set_at == START

    again = _set(client, tenant, link.token, "another long password")
    assert again.status_code == 410
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["errors"] == [
        {
            "field": "token",
            "code": "token_used",
            "message": "this set-password link was already used",
        }
    ]
    assert _account(db, link.applicant_id).password_hash == account.password_hash


def test_a_link_is_refused_after_72_hours_and_nothing_changes(
    client: TestClient, db: Database, tenant: Tenant, clock: Clock
) -> None:
    link = _link(db, tenant)
    clock.advance(timedelta(hours=72))

    response = _set(client, tenant, link.token)

    assert response.status_code == 410
    assert response.json()["errors"][0]["code"] == "token_expired"
    assert _account(db, link.applicant_id).password_hash is None
    with db.transaction() as session:
        assert session.scalars(select(SetPasswordToken.used_at)).one() is None


def test_a_link_replaced_by_a_newer_one_is_refused_and_the_newer_one_works(
    client: TestClient, db: Database, tenant: Tenant, clock: Clock
) -> None:
    old, new = _link(db, tenant), _link(db, tenant)

    refused = _set(client, tenant, old.token)
    assert (refused.status_code, refused.json()["errors"][0]["code"]) == (410, "token_revoked")
    assert _account(db, old.applicant_id).password_hash is None

    accepted = _set(client, tenant, new.token)
    assert accepted.status_code == 204


def test_two_concurrent_uses_of_a_link_cannot_both_succeed(
    client: TestClient, db: Database, tenant: Tenant, clock: Clock
) -> None:
    link = _link(db, tenant)
    passwords = [PASSWORD, "the other long password"]

    def use(password: str) -> str:
        try:
            set_password(db, tenant.organisation_id, link.token, password, now=START)
        except TokenRefused as refused:
            return refused.problem
        return password

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(use, passwords))

    [winner] = [o for o in outcomes if o != "used"]
    [loser] = [p for p in passwords if p != winner]
    assert sorted(outcomes) == sorted([winner, "used"])
    with db.transaction() as session:
        assert session.scalars(select(SetPasswordToken.used_at)).one() == START
    assert _login(client, tenant, link.username, winner).status_code == 200
    assert _login(client, tenant, link.username, loser).status_code == 401


def test_an_unknown_token_is_a_400_naming_the_token(
    client: TestClient, tenant: Tenant, clock: Clock
) -> None:
    response = _set(client, tenant, "not-a-token")
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "field": "token",
        "code": "token_unknown",
        "message": "this set-password link is not valid",
    }


def test_another_organisations_key_gets_nothing_from_a_link(
    client: TestClient, db: Database, tenant: Tenant, clock: Clock
) -> None:
    link = _link(db, tenant)
    other = make_tenant(db, name="Other")

    response = _set(client, other, link.token)

    # Unknown in that organisation; the link still works for its own
    assert response.status_code == 400
    assert _account(db, link.applicant_id).password_hash is None
    assert _set(client, tenant, link.token).status_code == 204
    assert _login(client, other, link.username).status_code == 401


@pytest.mark.parametrize("password", ["", "x" * 11, "x" * 129])
def test_a_password_of_the_wrong_length_is_refused_naming_the_password(
    client: TestClient, db: Database, tenant: Tenant, clock: Clock, password: str
) -> None:
    link = _link(db, tenant)

    response = _set(client, tenant, link.token, password)

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error == {
        "field": "password",
        "code": "password_length",
        "message": "a password has 12 to 128 characters",
    }
    assert _set(client, tenant, link.token).status_code == 204  # the link was not used up


def test_the_endpoints_need_the_candidate_auth_scope(
    client: TestClient, db: Database, clock: Clock
) -> None:
    reader = make_tenant(db, scopes=[Scope.APPLICATIONS_READ])
    assert _set(client, reader, "whatever").status_code == 403
    assert _login(client, reader, "ann@example.org").status_code == 403


def test_idempotency_keys_are_documented_as_unused(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (SET, LOGIN):
        operation = paths[path]["post"]
        assert "Idempotency-Key" in operation["description"]
        names = {p["name"] for p in operation.get("parameters", [])}
        assert "Idempotency-Key" not in names


# -- log in ------------------------------------------------------------------------------


def test_login_works_with_the_new_password_and_fails_alike_otherwise(
    client: TestClient, db: Database, tenant: Tenant, clock: Clock
) -> None:
    link = _link(db, tenant)
    assert _set(client, tenant, link.token).status_code == 204

    ok = _login(client, tenant, link.username)
    assert ok.status_code == 200
    assert ok.json() == {"applicant_id": str(link.applicant_id)}

    wrong = _login(client, tenant, link.username, "not the password")
    unknown = _login(client, tenant, "bob@example.org")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_an_account_without_a_password_cannot_log_in(
    client: TestClient, db: Database, tenant: Tenant, clock: Clock
) -> None:
    link = _link(db, tenant)
    assert _login(client, tenant, link.username, "").status_code == 422
    assert _login(client, tenant, link.username, PASSWORD).status_code == 401


def test_five_failures_lock_the_account_for_15_minutes(
    client: TestClient, db: Database, tenant: Tenant, clock: Clock
) -> None:
    link = _link(db, tenant)
    assert _set(client, tenant, link.token).status_code == 204

    for _ in range(5):
        assert _login(client, tenant, link.username, "a wrong password").status_code == 401
    locked = _login(client, tenant, link.username)

    # Even the right password is turned away while locked
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == str(15 * 60)
    assert _account(db, link.applicant_id).locked_until == START + timedelta(minutes=15)

    clock.advance(timedelta(minutes=15, seconds=1))
    assert _login(client, tenant, link.username).status_code == 200
    account = _account(db, link.applicant_id)
    assert (account.failed_logins, account.locked_until) == (0, None)


def test_a_success_resets_the_count_of_failures(
    client: TestClient, db: Database, tenant: Tenant, clock: Clock
) -> None:
    link = _link(db, tenant)
    assert _set(client, tenant, link.token).status_code == 204
    for _ in range(4):
        assert _login(client, tenant, link.username, "a wrong password").status_code == 401
    assert _login(client, tenant, link.username).status_code == 200
    assert _login(client, tenant, link.username, "a wrong password").status_code == 401
    assert _login(client, tenant, link.username).status_code == 200


def test_guessing_at_a_username_without_an_account_is_slowed_down_too(
    client: TestClient, tenant: Tenant, clock: Clock
) -> None:
    statuses = [_login(client, tenant, "nobody@example.org").status_code for _ in range(11)]
    assert statuses == [401] * 10 + [429]
    clock.advance(timedelta(minutes=1))
    assert _login(client, tenant, "nobody@example.org").status_code == 401


def test_a_password_set_with_old_argon2_parameters_is_rehashed_at_login(
    client: TestClient, db: Database, tenant: Tenant, clock: Clock
) -> None:
    from argon2 import PasswordHasher

    link = _link(db, tenant)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with db.transaction() as session:
        account = session.scalars(select(CandidateAccount)).one()
        account.password_hash = weak

    assert _login(client, tenant, link.username).status_code == 200

    rehashed = _account(db, link.applicant_id).password_hash
    assert rehashed is not None and rehashed != weak
    assert not PasswordHasher().check_needs_rehash(rehashed)


# -- secrets stay secret -----------------------------------------------------------------


def test_neither_the_password_nor_the_token_is_stored_or_logged_in_clear(
    client: TestClient,
    db: Database,
    tenant: Tenant,
    clock: Clock,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    link = _link(db, tenant)
    capsys.readouterr()

    with capture_logs() as logs:
        assert _set(client, tenant, link.token).status_code == 204
        assert _set(client, tenant, link.token).status_code == 410  # used
        assert _login(client, tenant, link.username, PASSWORD + "!").status_code == 401
        assert _login(client, tenant, link.username).status_code == 200
        assert _login(client, tenant, link.username, "x" * 200).status_code == 422  # too long

    logged = repr(logs) + "".join(capsys.readouterr()) + caplog.text
    assert "candidate.password_set" in logged and "candidate.logged_in" in logged
    for secret in (PASSWORD, link.token, "x" * 200):
        assert secret not in logged
    values = [str(value) for _table, _column, value in every_value(db)]
    assert values  # the canary looked at something
    assert not [v for v in values if PASSWORD in v or link.token in v]
