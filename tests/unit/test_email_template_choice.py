"""A command's ``template`` names the email it sends; a name it cannot use is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from shared.db.database import Database
from shared.db.models import Application, ScheduledJob
from shared.statuses import ApplicationStatus as S
from tests.conftest import Tenant
from tests.seeds import Reference, seed_application, seed_reference
from tests.workflow import run

SOON = (datetime.now(UTC) + timedelta(days=3)).isoformat()
START = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()


def _bodies(ref: Reference) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each command that sends an email, with its purpose, minus the template."""
    return {
        "invite_to_interview": (
            "interview_invitation",
            {"interview_type": "phone", "start": SOON, "duration_minutes": 30},
        ),
        "reject_application": (
            "rejection",
            {"rejection_type": "by_company", "reason_id": str(ref.reason_id), "email": {}},
        ),
        "save_and_send_credentials": ("credentials", {}),
        "send_offer": (
            "offer",
            {
                "salary": {"amount": "3500.00", "currency": "EUR", "period": "month"},
                "start_date": START,
            },
        ),
    }


def _with_template(body: dict[str, Any], template: str) -> dict[str, Any]:
    if "email" in body:
        return {**body, "email": {"template": template}}
    return {**body, "template": template}


def _state(db: Database, application: uuid.UUID) -> tuple[str, int]:
    with db.transaction() as session:
        status = session.scalar(select(Application.status).where(Application.id == application))
        jobs = session.scalar(
            select(func.count())
            .select_from(ScheduledJob)
            .where(ScheduledJob.application_id == application)
        )
        assert status is not None and jobs is not None
        return status, jobs


@pytest.mark.parametrize(
    "command",
    ["invite_to_interview", "reject_application", "save_and_send_credentials", "send_offer"],
)
def test_an_unknown_template_is_refused_and_changes_nothing_while_the_purposes_own_is_used(
    db: Database, tenant: Tenant, command: str
) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    purpose, body = _bodies(ref)[command]
    application = seed_application(db, tenant.organisation_id, ref.vacancy_id, S.RECEIVED)
    target = {"type": command, "application_id": str(application)}

    refused = run(db, tenant.organisation_id, {**target, **_with_template(body, "friendly-no")})

    assert (refused.status, refused.outcome_code) == ("rejected", "unknown_template")
    assert refused.outcome_message is not None
    assert "'friendly-no'" in refused.outcome_message and repr(purpose) in refused.outcome_message
    assert _state(db, application) == ("received", 0)

    used = run(db, tenant.organisation_id, {**target, **_with_template(body, purpose)})

    assert used.status == "succeeded", used.outcome_message
    status, jobs = _state(db, application)
    assert status != "received" and jobs == 1
