"""The retention policy over the API (read, set, scoped, idempotent) and the dry-run."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient

from services.retention import sweep_retention
from shared.db.database import Database
from tests.conftest import Tenant, make_tenant
from tests.factories import new_key
from tests.retention import advance_clock, close_vacancy
from tests.seeds import seed_reference
from tests.workflow import run

POLICY = {"enabled": True, "purge_after_weeks": 2, "consent_months": 6, "reminder_days": 14}


def test_the_policy_is_the_default_until_set_and_each_organisation_sees_its_own(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given two organisations
    other = make_tenant(db, name="Other")
    # When one reads its policy, sets it, and sets it again with the same key
    before = client.get("/v1/retention-policy", headers=tenant.headers)
    key = new_key()
    put = client.put(
        "/v1/retention-policy", json=POLICY, headers={**tenant.headers, "Idempotency-Key": key}
    )
    again = client.put(
        "/v1/retention-policy", json=POLICY, headers={**tenant.headers, "Idempotency-Key": key}
    )
    after = client.get("/v1/retention-policy", headers=tenant.headers)
    others = client.get("/v1/retention-policy", headers=other.headers)
    # Then it had the defaults, now has its own, the replay changed nothing, and the other
    # organisation still has the defaults
    assert before.json() | {"updated_at": None} == {
        "enabled": True,
        "purge_after_weeks": 4,
        "consent_months": 12,
        "reminder_days": 30,
        "is_default": True,
        "updated_at": None,
    }
    assert put.status_code == 200 and again.headers["Idempotency-Replayed"] == "true"
    assert {k: after.json()[k] for k in POLICY} == POLICY and after.json()["is_default"] is False
    assert others.json()["is_default"] is True and others.json()["purge_after_weeks"] == 4


def test_a_policy_out_of_bounds_is_refused_naming_the_field(
    client: TestClient, tenant: Tenant
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": new_key()}
    missing_key = client.put("/v1/retention-policy", json=POLICY, headers=tenant.headers)
    refused = client.put(
        "/v1/retention-policy", json={**POLICY, "purge_after_weeks": 0}, headers=headers
    )
    assert missing_key.status_code == 400
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["purge_after_weeks"]
    assert client.get("/v1/retention-policy", headers=tenant.headers).json()["is_default"]


def test_the_dry_run_lists_exactly_what_the_sweep_then_purges_and_only_its_own(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given two organisations, each with a rejected application on a vacancy closed
    # three weeks ago, and a policy of two weeks for the first
    ids = {}
    for who in (tenant, make_tenant(db, name="Other")):
        ref = seed_reference(db, who.organisation_id)
        registered = run(
            db,
            who.organisation_id,
            {
                "type": "register_application",
                "vacancy_id": str(ref.vacancy_id),
                "applicant": {"name": "Ann", "email": f"{uuid.uuid4().hex[:6]}@example.org"},
            },
        ).application_id
        run(
            db,
            who.organisation_id,
            {
                "type": "reject_application",
                "application_id": str(registered),
                "rejection_type": "by_company",
                "reason_id": str(ref.reason_id),
            },
        )
        close_vacancy(db, ref.vacancy_id)
        ids[who.organisation_id] = str(registered)
    client.put(
        "/v1/retention-policy",
        json=POLICY,
        headers={**tenant.headers, "Idempotency-Key": new_key()},
    )
    advance_clock(db, days=21)

    # When the first asks for the dry-run, then the sweep runs
    preview = client.get("/v1/retention/preview", headers=tenant.headers).json()
    swept = sweep_retention(db, key_retention=timedelta(hours=48))

    # Then the dry-run lists its own application, why, and the sweep purges that alone
    assert [(p["application_id"], p["reason"], p["status"]) for p in preview["purges"]] == [
        (ids[tenant.organisation_id], "application_ended", "rejected")
    ]
    assert [str(a) for a in swept.purges] == [ids[tenant.organisation_id]]
    assert preview["policy"]["purge_after_weeks"] == 2 and preview["reminders"] == []
