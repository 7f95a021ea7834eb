"""Panel reviews: links minted as the invitations go out, the rating page and its JSON
twin, blind ratings, the results for the recruiter, and every way a link or a rating
is refused with nothing stored."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from shared.db.database import Database
from shared.db.models import (
    EmailTemplate,
    OutboundEmail,
    OutboxMessage,
    PanelRating,
    PanelReview,
    PanelReviewer,
)
from shared.statuses import ApplicationStatus
from tests.conftest import Tenant, make_tenant
from tests.mailbox import deliver_due_mail
from tests.read_rows import every_value
from tests.reviews import invitation_links, request_review
from tests.seeds import seed_application, seed_reference
from tests.workflow import run

MARK, LOTTE = "mark@example.org", "lotte@extern.example"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _ratings(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(PanelRating)) or 0)


def _rate(client: TestClient, token: str, form: dict[str, str]) -> httpx.Response:
    page = client.get(f"/review/{token}")
    csrf = CSRF.search(page.text)
    assert csrf is not None
    response: httpx.Response = client.post(
        f"/review/{token}", data={"csrf": csrf.group(1), **form}, follow_redirects=False
    )
    return response


def test_each_reviewer_gets_their_own_link_kept_only_as_a_hash(
    db: Database, tenant: Tenant
) -> None:
    review = request_review(db, tenant)

    assert set(review.tokens) == {MARK, LOTTE}
    assert len(set(review.tokens.values())) == 2
    stored = " ".join(str(value) for _, _, value in every_value(db))
    for token in review.tokens.values():
        assert token not in stored  # not in the reviewer row, the email kept, the outbox
    with db.transaction() as session:
        kept = session.scalars(select(OutboundEmail.mime)).all()
    assert all(b"[redacted]" in mime for mime in kept)


def test_a_reviewer_rates_candidates_and_sees_their_ratings_after_a_reload(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    review = request_review(db, tenant)
    ann, bram = review.applications
    token = review.tokens[MARK]

    saved = _rate(
        client,
        token,
        {f"stars-{ann}": "6", f"comment-{ann}": "Sterke motivatie.", f"stars-{bram}": "3"},
    )
    page = client.get(saved.headers["location"])

    assert saved.status_code == 303
    assert "Uw beoordelingen zijn opgeslagen" in page.text
    assert re.search(rf'name="stars-{ann}" value="6" checked', page.text)
    assert re.search(rf'name="stars-{bram}" value="3" checked', page.text)
    assert "Sterke motivatie." in page.text
    assert "4 van 7 sterren" in page.text and "<legend>" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


def test_ratings_are_blind_and_a_later_save_replaces_the_earlier_one(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    review = request_review(db, tenant)
    ann = review.applications[0]
    _rate(client, review.tokens[MARK], {f"stars-{ann}": "6", f"comment-{ann}": "Mark's view"})

    _rate(client, review.tokens[LOTTE], {f"stars-{ann}": "2"})
    _rate(client, review.tokens[LOTTE], {f"stars-{ann}": "4"})
    lotte = client.get(f"/review/{review.tokens[LOTTE]}")

    assert "Mark's view" not in lotte.text and 'value="6" checked' not in lotte.text
    assert _ratings(db) == 2
    with db.transaction() as session:
        events = session.scalars(
            select(OutboxMessage.payload).where(
                OutboxMessage.destination == "review.rating_submitted"
            )
        ).all()
    assert [e["stars"] for e in events] == [6, 2, 4]


def test_the_recruiter_reads_count_mean_median_min_max_and_each_comment(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    review = request_review(db, tenant, reviewers=(MARK, LOTTE, "eva@example.org"))
    ann = review.applications[0]
    for email, stars, comment in ((MARK, 7, "Top"), (LOTTE, 2, ""), ("eva@example.org", 4, "")):
        _rate(client, review.tokens[email], {f"stars-{ann}": str(stars), f"comment-{ann}": comment})

    application = client.get(f"/v1/applications/{ann}", headers=tenant.headers).json()
    whole = client.get(f"/v1/panel-reviews/{review.review_id}", headers=tenant.headers).json()

    summary = application["panel_ratings"]["summary"]
    assert summary == {"count": 3, "mean": 4.33, "median": 4.0, "min": 2, "max": 7}
    comments = {r["reviewer_name"]: r["comment"] for r in application["panel_ratings"]["ratings"]}
    assert comments == {"Mark": "Top", "Lotte": None, "Eva": None}
    [first, second] = whole["candidates"]
    assert first["application_id"] == str(ann) and first["results"]["summary"] == summary
    assert second["results"]["summary"]["count"] == 0
    assert {r["status"] for r in whole["reviewers"]} == {"invited"}
    assert "token" not in str(whole)


@pytest.mark.parametrize(
    ("rating", "field"),
    [
        ({"stars": 0}, "ratings.0.stars"),
        ({"stars": 8}, "ratings.0.stars"),
        ({"stars": 3.5}, "ratings.0.stars"),
        ({"stars": "5"}, "ratings.0.stars"),
        ({"stars": True}, "ratings.0.stars"),
        ({}, "ratings.0.stars"),
        ({"stars": 5, "comment": "x" * 2001}, "ratings.0.comment"),
    ],
)
def test_a_rating_that_is_not_a_whole_number_of_stars_from_1_to_7_is_refused(
    client: TestClient, db: Database, tenant: Tenant, rating: dict[str, object], field: str
) -> None:
    review = request_review(db, tenant)
    body = {"ratings": [{"application_id": str(review.applications[0]), **rating}]}

    response = client.put(f"/review/{review.tokens[MARK]}/ratings", json=body)

    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    assert _ratings(db) == 0


def test_the_form_refuses_stars_outside_1_to_7_and_a_comment_without_stars(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    review = request_review(db, tenant)
    ann, bram = review.applications

    response = _rate(
        client,
        review.tokens[MARK],
        {f"stars-{ann}": "8", f"stars-{bram}": "", f"comment-{bram}": "no stars"},
    )

    assert response.status_code == 422
    text = response.text
    assert "Er is niets opgeslagen" in text
    assert "Kies voor Ann de Vries een waarde van 1 tot 7 sterren." in text
    assert "Kies 1 tot 7 sterren voor Bram Jansen" in text
    assert _ratings(db) == 0


def test_a_json_rating_for_someone_not_in_the_review_is_refused(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    review = request_review(db, tenant)
    body = {"ratings": [{"application_id": str(uuid.uuid4()), "stars": 5}]}

    response = client.put(f"/review/{review.tokens[MARK]}/ratings", json=body)

    assert response.status_code == 422
    assert "ratings.0.application_id" in response.json()["detail"]
    assert _ratings(db) == 0


def test_a_form_without_the_csrf_token_is_refused(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    review = request_review(db, tenant)
    token, ann = review.tokens[MARK], review.applications[0]
    client.get(f"/review/{token}")  # sets the cookie

    forged = client.post(f"/review/{token}", data={"csrf": "forged", f"stars-{ann}": "7"})

    assert forged.status_code == 403
    assert "Ann de Vries" not in forged.text
    assert _ratings(db) == 0


def _assert_refused(client: TestClient, token: str, status: int, words: str) -> None:
    page = client.get(f"/review/{token}")
    assert page.status_code == status
    assert words in page.text
    assert "Ann de Vries" not in page.text and "Nurse" not in page.text


def test_a_tampered_or_unknown_link_shows_a_friendly_404_without_data(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    token = request_review(db, tenant).tokens[MARK]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")

    _assert_refused(client, tampered, 404, "Deze link is niet (meer) geldig")
    _assert_refused(client, "x" * 43, 404, "Deze link is niet (meer) geldig")


def test_a_revoked_reviewers_link_stops_working_and_their_ratings_stay(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    review = request_review(db, tenant)
    ann = review.applications[0]
    _rate(client, review.tokens[MARK], {f"stars-{ann}": "5"})

    run(
        db,
        tenant.organisation_id,
        {
            "type": "revoke_panel_reviewer",
            "review_id": str(review.review_id),
            "reviewer_id": str(review.reviewer_ids[0]),
        },
    )

    _assert_refused(client, review.tokens[MARK], 410, "ingetrokken")
    body = {"ratings": [{"application_id": str(ann), "stars": 1}]}
    assert client.put(f"/review/{review.tokens[MARK]}/ratings", json=body).status_code == 410
    assert _ratings(db) == 1
    assert client.get(f"/review/{review.tokens[LOTTE]}").status_code == 200


def test_after_the_due_date_the_page_refuses_changes(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    review = request_review(db, tenant, due=(datetime.now(UTC) + timedelta(days=3)).isoformat())
    ann, token = review.applications[0], review.tokens[MARK]
    page = client.get(f"/review/{token}")
    with db.transaction() as session:
        session.execute(update(PanelReview).values(due_at=datetime.now(UTC) - timedelta(minutes=1)))

    csrf = CSRF.search(page.text)
    assert csrf is not None
    late = client.post(f"/review/{token}", data={"csrf": csrf.group(1), f"stars-{ann}": "7"})

    assert late.status_code == 410 and "Wijzigen kan niet meer" in late.text
    _assert_refused(client, token, 410, "De termijn voor deze beoordeling is voorbij")
    assert _ratings(db) == 0


def test_a_closed_review_and_a_replaced_link_refuse_and_the_new_link_works(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    review = request_review(db, tenant)
    old = review.tokens[MARK]
    run(
        db,
        tenant.organisation_id,
        {
            "type": "resend_panel_review_link",
            "review_id": str(review.review_id),
            "reviewer_id": str(review.reviewer_ids[0]),
        },
    )
    new = invitation_links(db)[MARK]

    assert new != old
    _assert_refused(client, old, 404, "Deze link is niet (meer) geldig")
    assert client.get(f"/review/{new}").status_code == 200
    run(
        db,
        tenant.organisation_id,
        {"type": "close_panel_review", "review_id": str(review.review_id)},
    )
    _assert_refused(client, new, 410, "Deze beoordeling is gesloten")


def test_the_cv_link_works_only_for_the_reviews_own_candidates(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    review = request_review(db, tenant)
    other = make_tenant(db, name="Other")
    ref = seed_reference(db, other.organisation_id)
    outsider = seed_application(
        db, other.organisation_id, ref.vacancy_id, ApplicationStatus.RECEIVED
    )

    response = client.get(f"/review/{review.tokens[MARK]}/cv/{outsider}")

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (ApplicationStatus.WITHDRAWN, "invalid_transition"),
        (ApplicationStatus.HIRED, "invalid_transition"),
    ],
)
def test_a_review_of_an_application_that_is_not_active_is_refused(
    db: Database, tenant: Tenant, status: ApplicationStatus, code: str
) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    application = seed_application(db, tenant.organisation_id, ref.vacancy_id, status)

    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "request_panel_review",
            "application_ids": [str(application)],
            "reviewers": [{"email": MARK, "name": "Mark"}],
        },
    )

    assert (record.status, record.outcome_code) == ("rejected", code)
    assert "request_panel_review" in (record.outcome_message or "")
    assert str(status) in (record.outcome_message or "")


def test_a_review_of_two_vacancies_or_another_organisations_application_is_refused(
    db: Database, tenant: Tenant
) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    here = seed_application(db, tenant.organisation_id, ref.vacancy_id, ApplicationStatus.RECEIVED)
    there = seed_application(
        db, tenant.organisation_id, ref.other_vacancy_id, ApplicationStatus.RECEIVED
    )
    other = make_tenant(db, name="Other")
    foreign_ref = seed_reference(db, other.organisation_id)
    foreign = seed_application(
        db, other.organisation_id, foreign_ref.vacancy_id, ApplicationStatus.RECEIVED
    )

    outcomes = [
        run(
            db,
            tenant.organisation_id,
            {
                "type": "request_panel_review",
                "application_ids": [str(a) for a in ids],
                "reviewers": [{"email": MARK, "name": "Mark"}],
            },
        )
        for ids in ([here, there], [here, foreign])
    ]

    assert [o.outcome_code for o in outcomes] == ["mixed_vacancies", "not_found"]
    assert str(foreign) in (outcomes[1].outcome_message or "")


def test_an_invitation_whose_template_fails_is_recorded_as_failed_and_mints_no_link(
    db: Database, tenant: Tenant
) -> None:
    # Given the organisation's invitation template, which builds too much for real names
    with db.transaction() as session:
        session.add(
            EmailTemplate(
                organisation_id=tenant.organisation_id,
                purpose="panel_review_invitation",
                locale="nl",
                subject="Beoordeling {{ vacancy_title }}",
                text="{{ review_link }} {% if reviewer_name != 'Mark Jansen' %}"
                "{{ reviewer_name * 100000 }}{% endif %}",
                html="<p>{{ review_link }}</p>",
            )
        )
    ref = seed_reference(db, tenant.organisation_id)
    applications = [
        str(seed_application(db, tenant.organisation_id, ref.vacancy_id, status))
        for status in (ApplicationStatus.RECEIVED, ApplicationStatus.INTERVIEW)
    ]

    # When a review is requested and its invitations are delivered
    run(
        db,
        tenant.organisation_id,
        {
            "type": "request_panel_review",
            "application_ids": applications,
            "reviewers": [{"email": MARK, "name": "Mark", "kind": "internal"}],
        },
    )
    sink = deliver_due_mail(db)

    # Then nothing is sent, the email is failed with the template's problem, and told
    assert sink.received == []
    with db.transaction() as session:
        [email] = session.scalars(select(OutboundEmail)).all()
        [reviewer] = session.scalars(select(PanelReviewer)).all()
        told = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.destination == "email.failed")
        ).all()
        assert (email.state, email.recipient, email.application_id) == ("failed", MARK, None)
        assert email.smtp_reply is not None
        assert email.smtp_reply.startswith(
            "template_error: panel_review_invitation/nl organisation template v1: text: line 1:"
            " the '*' operator would build a text of more than 100000 characters"
        )
        # And the reviewer got no link: the one minted for the email was rolled back
        assert (reviewer.token_hash, reviewer.invited_at) == (None, None)
    assert [payload["email_id"] for payload in told] == [str(email.id)]
