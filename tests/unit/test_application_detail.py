"""One application as the recruiter reads it: the applicant, what they sent, the offers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from shared.db.database import Database
from tests.conftest import Tenant, make_tenant
from tests.documents import stored_cv
from tests.factories import open_vacancy, register_body
from tests.workflow import run

START = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()


def _offer(application: object, amount: str) -> dict[str, object]:
    return {
        "type": "send_offer",
        "application_id": str(application),
        "salary": {"amount": amount, "currency": "EUR", "period": "month"},
        "start_date": START,
    }


def test_the_application_shows_its_applicant_text_answers_cv_and_every_offer(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    org = tenant.organisation_id
    cv = stored_cv(db, org)
    body = register_body(
        open_vacancy(db, org),
        applicant={"name": "Ann de Vries", "email": "ann@example.org", "phone": "+31 6 1234 5678"},
        application_text="I would love to work with you.",
        screening_answers=[{"question": "Driving licence?", "answer": "Yes"}],
        cv_document_id=str(cv),
    )
    application = run(db, org, body).application_id
    for amount in ("3500.00", "3750.00"):
        assert run(db, org, _offer(application, amount)).status == "succeeded"

    shown = client.get(f"/v1/applications/{application}", headers=tenant.headers)

    assert shown.status_code == 200, shown.text
    view = shown.json()
    assert {k: view["applicant"][k] for k in ("name", "email", "phone", "is_candidate")} == {
        "name": "Ann de Vries",
        "email": "ann@example.org",
        "phone": "+31 6 1234 5678",
        "is_candidate": True,
    }
    assert view["application_text"] == "I would love to work with you."
    assert view["screening_answers"] == [{"question": "Driving licence?", "answer": "Yes"}]
    assert view["cv_document_id"] == str(cv)
    assert [(o["version"], o["salary"]["amount"], o["status"]) for o in view["offers"]] == [
        (1, "3500.00", "superseded"),
        (2, "3750.00", "open"),
    ]
    other = make_tenant(db, name="Other")
    assert client.get(f"/v1/applications/{application}", headers=other.headers).status_code == 404
