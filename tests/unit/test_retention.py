"""AVG retention with a moving clock: rejected and withdrawn applications go N weeks
after their vacancy closed, the talent pool when its consent lapses, hired never; the
dry-run lists exactly what the sweep then purges."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from services.retention import sweep_retention
from shared.db.database import Database
from shared.db.models import (
    Applicant,
    Application,
    ApplicationEvent,
    OutboundEmail,
    OutboxMessage,
    TalentPoolConsent,
    Vacancy,
)
from shared.db.types import utcnow
from shared.retention.due import due_purges
from shared.retention.policy import DEFAULT_POLICY
from tests.conftest import Tenant
from tests.mailbox import deliver_due_mail, parsed
from tests.retention import advance_clock, close_vacancy, run_retention_commands
from tests.seeds import Reference, seed_reference
from tests.workflow import run

KEYS = timedelta(hours=48)


def _apply(
    db: Database, tenant: Tenant, vacancy: uuid.UUID, *steps: dict[str, object]
) -> uuid.UUID:
    registered = run(
        db,
        tenant.organisation_id,
        {
            "type": "register_application",
            "vacancy_id": str(vacancy),
            "applicant": {"name": "Ann de Vries", "email": f"{uuid.uuid4().hex[:8]}@example.org"},
        },
    )
    assert registered.application_id is not None
    for step in steps:
        record = run(
            db, tenant.organisation_id, {**step, "application_id": str(registered.application_id)}
        )
        assert record.status == "succeeded", (step, record.outcome_message)
    return registered.application_id


def _reject(ref: Reference) -> dict[str, object]:
    return {
        "type": "reject_application",
        "rejection_type": "by_company",
        "reason_id": str(ref.reason_id),
    }


def _hire(ref: Reference) -> dict[str, object]:
    return {
        "type": "hire_applicant",
        "position_id": str(ref.position_id),
        "department_id": str(ref.department_id),
        "start_date": "2027-02-01",
    }


def _preview(db: Database, tenant: Tenant) -> dict[uuid.UUID, str]:
    with db.transaction() as session:
        due = due_purges(session, tenant.organisation_id, DEFAULT_POLICY, utcnow())
    return {d.application_id: d.reason for d in due}


def _exists(db: Database, application_id: uuid.UUID) -> bool:
    with db.transaction() as session:
        return session.get(Application, application_id) is not None


def test_ended_applications_go_four_weeks_after_the_vacancy_closed_and_hired_ones_stay(
    db: Database, tenant: Tenant
) -> None:
    # Given a vacancy with a rejected, a withdrawn, a hired and a received application
    ref = seed_reference(db, tenant.organisation_id)
    rejected = _apply(db, tenant, ref.vacancy_id, _reject(ref))
    withdrawn = _apply(db, tenant, ref.vacancy_id, {"type": "withdraw_application"})
    hired = _apply(db, tenant, ref.vacancy_id, _hire(ref))
    received = _apply(db, tenant, ref.vacancy_id)
    # And one on a vacancy that stays open
    open_rejected = _apply(db, tenant, ref.other_vacancy_id, _reject(ref))
    close_vacancy(db, ref.vacancy_id)

    # When three weeks and six days go by, nothing is due yet
    advance_clock(db, days=27)
    assert _preview(db, tenant) == {}
    assert sweep_retention(db, key_retention=KEYS).purges == []

    # When the fourth week is over
    advance_clock(db, days=1.1)
    preview = _preview(db, tenant)
    swept = sweep_retention(db, key_retention=KEYS)
    outcomes = run_retention_commands(db)

    # Then the dry-run listed exactly the rejected and withdrawn ones, which the sweep purged
    assert preview == {rejected: "application_ended", withdrawn: "application_ended"}
    assert sorted(swept.purges) == sorted(preview)
    assert [o.status for o in outcomes] == ["succeeded", "succeeded"]
    assert [_exists(db, a) for a in (rejected, withdrawn, hired, received, open_rejected)] == [
        False,
        False,
        True,
        True,
        True,
    ]
    # And each purge is an application.purged event and history row that say retention
    with db.transaction() as session:
        events = [
            p
            for p in session.scalars(select(OutboxMessage.payload))
            if p.get("event") == "application.purged"
        ]
        history = session.scalars(
            select(ApplicationEvent.reason).where(
                ApplicationEvent.event_type == "application.purged"
            )
        ).all()
    assert sorted(e["application_id"] for e in events) == sorted(str(a) for a in preview)
    assert {e["reason"] for e in events} == {"retention"} and set(history) == {"retention"}
    # And a second sweep finds nothing more to do
    assert sweep_retention(db, key_retention=KEYS).purges == []


def test_a_purge_that_is_no_longer_due_when_it_runs_is_refused_not_done(
    db: Database, tenant: Tenant
) -> None:
    # Given a rejected application whose purge the sweep accepted
    ref = seed_reference(db, tenant.organisation_id)
    rejected = _apply(db, tenant, ref.vacancy_id, _reject(ref))
    close_vacancy(db, ref.vacancy_id)
    advance_clock(db, days=29)
    assert sweep_retention(db, key_retention=KEYS).purges == [rejected]
    # When the vacancy is reopened before status_worker runs the purge
    with db.transaction() as session:
        vacancy = session.get(Vacancy, ref.vacancy_id)
        assert vacancy is not None
        vacancy.is_open, vacancy.closed_at = True, None
    [outcome] = run_retention_commands(db)
    # Then the purge is refused as not due, and the application is kept
    assert (outcome.status, outcome.outcome_code) == ("rejected", "not_due")
    assert _exists(db, rejected)


def test_consent_keeps_the_talent_pool_until_it_lapses_then_the_applicant_goes(
    db: Database, tenant: Tenant
) -> None:
    # Given an applicant saved to the talent pool, later rejected on another vacancy
    ref = seed_reference(db, tenant.organisation_id)
    saved = _apply(db, tenant, ref.vacancy_id, {"type": "save_application"})
    with db.transaction() as session:
        application = session.get(Application, saved)
        assert application is not None
        applicant_id = application.applicant_id
    other = run(
        db,
        tenant.organisation_id,
        {
            "type": "register_application",
            "vacancy_id": str(ref.other_vacancy_id),
            "applicant_id": str(applicant_id),
        },
    ).application_id
    assert other is not None
    assert (
        run(db, tenant.organisation_id, {**_reject(ref), "application_id": str(other)}).status
        == "succeeded"
    )
    close_vacancy(db, ref.other_vacancy_id)

    # When the rejection is more than four weeks old, the consent keeps both
    advance_clock(db, days=60)
    assert _preview(db, tenant) == {}
    # When the consent is within 30 days of its end, the applicant is asked once
    advance_clock(db, days=300)
    first, second = (sweep_retention(db, key_retention=KEYS) for _ in range(2))
    assert (first.reminders, first.purges) == ([applicant_id], [])
    assert second.reminders == []
    # When the twelve months are over without an answer
    advance_clock(db, days=10)
    preview = _preview(db, tenant)
    swept = sweep_retention(db, key_retention=KEYS)
    run_retention_commands(db)
    # Then both applications go, and the applicant with them
    assert preview == {saved: "consent_lapsed", other: "consent_lapsed"}
    assert sorted(swept.purges) == sorted(preview)
    with db.transaction() as session:
        assert session.get(Applicant, applicant_id) is None


def _applicant_of(db: Database, application_id: uuid.UUID) -> uuid.UUID:
    with db.transaction() as session:
        application = session.get(Application, application_id)
        assert application is not None
        return application.applicant_id


def _addressee(raw: bytes) -> str:
    return str(parsed(raw)["To"].addresses[0].addr_spec)


def _link(raw: bytes) -> str:
    text = parsed(raw).get_body(("plain",))
    assert text is not None
    return str(re.findall(r"http://\S+/talent-pool/[A-Za-z0-9_-]+", text.get_content())[0])


def test_a_year_of_retention_extended_through_the_link_lapsed_rejected_and_hired(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given a closed vacancy with a rejected and a hired application, and two applicants
    # saved to the talent pool (so with consent for 12 months)
    ref = seed_reference(db, tenant.organisation_id)
    rejected = _apply(db, tenant, ref.vacancy_id, _reject(ref))
    hired = _apply(db, tenant, ref.vacancy_id, _hire(ref))
    stays = _apply(db, tenant, ref.vacancy_id, {"type": "save_application"})
    lapses = _apply(db, tenant, ref.vacancy_id, {"type": "save_application"})
    close_vacancy(db, ref.vacancy_id)

    # When four weeks and a day go by: the rejected application goes, as the dry-run said
    advance_clock(db, days=29)
    preview = _preview(db, tenant)
    swept = sweep_retention(db, key_retention=KEYS)
    run_retention_commands(db)
    assert preview == {rejected: "application_ended"} and swept.purges == [rejected]
    assert not _exists(db, rejected)

    # When the consents are within 30 days of their end: each applicant is asked by email
    advance_clock(db, days=310)
    swept = sweep_retention(db, key_retention=KEYS)
    sink = deliver_due_mail(db)
    assert (sorted(swept.reminders), swept.purges) == (
        sorted([_applicant_of(db, stays), _applicant_of(db, lapses)]),
        [],
    )
    links = {_addressee(raw): _link(raw) for raw in sink.received}
    assert len(links) == 2
    with db.transaction() as session:  # the copies kept have the links' tokens redacted
        kept = b"".join(session.scalars(select(OutboundEmail.mime)))
    assert not [link for link in links.values() if link.rsplit("/", 1)[1].encode() in kept]
    # And one of them opens the link and keeps their details
    with db.transaction() as session:
        applicant = session.get(Applicant, _applicant_of(db, stays))
        assert applicant is not None
    path = links[applicant.email].split("8000", 1)[1]
    page = client.get(path)
    extended = client.post(path)
    assert page.status_code == 200 and '<form method="post">' in page.text
    assert extended.status_code == 200 and "bewaart je gegevens" in extended.text
    with db.transaction() as session:
        consent = session.get(TalentPoolConsent, _applicant_of(db, stays))
        assert consent is not None and consent.expires_at > utcnow() + timedelta(days=360)
    assert client.post(path).status_code == 404  # the link is used up

    # When the twelve months are over
    advance_clock(db, days=30)
    preview = _preview(db, tenant)
    swept = sweep_retention(db, key_retention=KEYS)
    outcomes = run_retention_commands(db)

    # Then the dry-run listed exactly the lapsed applicant, whom the sweep purged, with
    # the applicant; the extended one and the hired one stay
    assert preview == {lapses: "consent_lapsed"} and swept.purges == [lapses]
    assert [o.status for o in outcomes] == ["succeeded"]
    assert [_exists(db, a) for a in (stays, lapses, hired)] == [True, False, True]
    with db.transaction() as session:
        assert session.get(Applicant, _applicant_of(db, stays)) is not None


def test_an_applicant_kept_by_an_active_application_leaves_the_pool_when_consent_lapses(
    db: Database, tenant: Tenant
) -> None:
    # Given an applicant saved to the talent pool on one vacancy, and applying on another
    ref = seed_reference(db, tenant.organisation_id)
    saved = _apply(db, tenant, ref.vacancy_id, {"type": "save_application"})
    applicant_id = _applicant_of(db, saved)
    active = run(
        db,
        tenant.organisation_id,
        {
            "type": "register_application",
            "vacancy_id": str(ref.other_vacancy_id),
            "applicant_id": str(applicant_id),
        },
    ).application_id
    assert active is not None
    # When the consent lapses without an answer and the sweep runs
    advance_clock(db, days=370)
    swept = sweep_retention(db, key_retention=KEYS)
    run_retention_commands(db)
    # Then the saved application goes, the active one and the applicant stay, out of the pool
    assert swept.purges == [saved]
    assert [_exists(db, a) for a in (saved, active)] == [False, True]
    with db.transaction() as session:
        applicant = session.get(Applicant, applicant_id)
        assert applicant is not None and applicant.in_talent_pool is False
