"""An applicant's answer to an interview invitation, on PostgreSQL through the real API process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from shared.db.database import Database
from shared.db.models import Interview, OutboxMessage
from shared.links import sign
from shared.settings import Settings
from tests.conftest import make_tenant
from tests.factories import open_vacancy, register_body
from tests.workflow import run

pytestmark = pytest.mark.integration


def test_an_answer_posted_through_the_link_shows_on_the_application_with_an_event(
    pg: Database, api_url: str
) -> None:
    tenant = make_tenant(pg)
    org = tenant.organisation_id
    application = run(pg, org, register_body(open_vacancy(pg, org))).application_id
    start = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    invite = {"interview_type": "phone", "start": start, "duration_minutes": 30}
    run(pg, org, {"type": "invite_to_interview", "application_id": str(application), **invite})
    with pg.transaction() as session:
        interview = session.scalars(select(Interview)).one().id
    # The API process signs with the same development key as this test's settings.
    signature = sign(Settings().link_key, "interview-response", interview)

    answered = httpx.post(
        f"{api_url}/interviews/{interview}/respond",
        data={"sig": signature, "answer": "confirmed"},
    )

    assert answered.status_code == 200
    shown = httpx.get(f"{api_url}/v1/applications/{application}", headers=tenant.headers).json()
    assert [i["response"] for i in shown["interviews"]] == ["confirmed"]
    assert shown["history"][-1]["event_type"] == "interview.confirmed"
    with pg.transaction() as session:
        event = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.destination == "interview.responded")
        ).one()
    assert (event["interview_id"], event["response"]) == (str(interview), "confirmed")
