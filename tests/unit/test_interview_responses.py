"""The applicant's confirm/decline link from an interview invitation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from shared.db.database import Database
from shared.db.models import Interview, OutboxMessage
from tests.conftest import Tenant
from tests.mailbox import deliver_due_mail, parsed
from tests.seeds import seed_reference
from tests.workflow import run


def _invite(db: Database, tenant: Tenant) -> str:
    """Invite an applicant and return the answer link the email carries."""
    ref = seed_reference(db, tenant.organisation_id)
    registered = run(
        db,
        tenant.organisation_id,
        {
            "type": "register_application",
            "vacancy_id": str(ref.vacancy_id),
            "applicant": {"name": "Ann de Vries", "email": "ann@example.org", "locale": "en"},
        },
    )
    start = datetime.now(UTC) + timedelta(days=3)
    run(
        db,
        tenant.organisation_id,
        {
            "type": "invite_to_interview",
            "application_id": str(registered.application_id),
            "interview_type": "phone",
            "start": start.isoformat(),
            "duration_minutes": 30,
        },
    )
    message = parsed(deliver_due_mail(db).received[0])
    body = message.get_body(("plain",))
    assert body is not None
    match = re.search(
        r"http://127\.0\.0\.1:8000(/interviews/\S+/respond\?sig=\S+)", body.get_content()
    )
    assert match, body.get_content()
    return match.group(1)


def _response(db: Database) -> str | None:
    with db.transaction() as session:
        return session.scalars(select(Interview.response)).one()


def test_opening_the_link_changes_nothing_and_posting_an_answer_records_it(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    link = _invite(db, tenant)
    page = client.get(link)
    assert page.status_code == 200 and "I will be there" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert _response(db) is None
    path, _, query = link.partition("?sig=")
    answered = client.post(path, data={"sig": query, "answer": "declined"})
    assert answered.status_code == 200
    assert _response(db) == "declined"


def test_a_tampered_link_shows_nothing_and_records_nothing(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    link = _invite(db, tenant)
    path, _, signature = link.partition("?sig=")
    tampered = signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")
    assert client.get(f"{path}?sig={tampered}").status_code == 404
    assert client.post(path, data={"sig": tampered, "answer": "confirmed"}).status_code == 404
    assert _response(db) is None


def test_a_cancelled_interview_can_no_longer_be_answered(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    link = _invite(db, tenant)
    with db.transaction() as session:
        session.scalars(select(Interview)).one().status = "cancelled"
    path, _, signature = link.partition("?sig=")
    assert client.post(path, data={"sig": signature, "answer": "confirmed"}).status_code == 409
    assert _response(db) is None


def test_the_recruiter_sees_the_answer_on_the_application_and_subscribers_get_an_event(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    link = _invite(db, tenant)
    path, _, signature = link.partition("?sig=")
    for answer in ("declined", "declined", "confirmed"):  # a second click records nothing new
        assert client.post(path, data={"sig": signature, "answer": answer}).status_code == 200

    with db.transaction() as session:
        interview = session.scalars(select(Interview)).one()
        application_id, interview_id = interview.application_id, interview.id
        events = session.scalars(
            select(OutboxMessage.payload)
            .where(OutboxMessage.destination == "interview.responded")
            .order_by(OutboxMessage.id)
        ).all()
    shown = client.get(f"/v1/applications/{application_id}", headers=tenant.headers).json()

    (seen,) = shown["interviews"]
    assert (seen["id"], seen["response"], seen["status"]) == (
        str(interview_id),
        "confirmed",
        "scheduled",
    )
    answers = [h for h in shown["history"] if h["event_type"].startswith("interview.")]
    assert [(h["event_type"], h["actor"], h["from_status"], h["to_status"]) for h in answers] == [
        ("interview.declined", "applicant", "interview", "interview"),
        ("interview.confirmed", "applicant", "interview", "interview"),
    ]
    assert [(e["interview_id"], e["response"]) for e in events] == [
        (str(interview_id), "declined"),
        (str(interview_id), "confirmed"),
    ]
    assert all("ann" not in str(e).lower() for e in events)  # ids only, no personal data
