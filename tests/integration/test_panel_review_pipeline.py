"""A panel review on the real path: API -> status_worker -> scheduler -> relay -> RabbitMQ
-> mail_worker -> SMTP, then the reviewer's page and the results, on PostgreSQL."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage

import httpx
import pytest

from shared.db.database import Database
from shared.statuses import ApplicationStatus
from tests.conftest import make_tenant
from tests.processes import run_over_http, wait_until
from tests.read_rows import every_value
from tests.reviews import LINK
from tests.seeds import seed_application, seed_reference
from tests.smtp_sinks import Sink

pytestmark = pytest.mark.integration
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.mark.usefixtures("relay_process", "worker_process", "mail_pipeline")
def test_reviewers_get_links_by_email_rate_on_the_page_and_the_recruiter_reads_the_results(
    pg: Database, api_url: str, sink: tuple[Sink, int]
) -> None:
    received, _ = sink
    tenant = make_tenant(pg, name="Zorggroep Noord")
    ref = seed_reference(pg, tenant.organisation_id)
    ann, bram = (
        seed_application(
            pg, tenant.organisation_id, ref.vacancy_id, ApplicationStatus.RECEIVED, name=name
        )
        for name in ("Ann de Vries", "Bram Jansen")
    )

    outcome = run_over_http(
        api_url,
        tenant.headers,
        {
            "type": "request_panel_review",
            "application_ids": [str(ann), str(bram)],
            "reviewers": [
                {"email": "mark@example.org", "name": "Mark", "kind": "internal"},
                {"email": "lotte@extern.example", "name": "Lotte", "kind": "external"},
            ],
        },
    )
    wait_until(lambda: len(received.received) == 2, timeout_s=60, what="two invitations")
    tokens = {}
    for raw in received.received:
        email = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
        assert isinstance(email, EmailMessage)
        body = email.get_body(("plain",))
        assert body is not None
        found = LINK.search(body.get_content())
        assert found is not None
        tokens[str(email["To"])] = found.group(1)

    with httpx.Client(base_url=api_url, follow_redirects=True) as mark:
        page = mark.get(f"/review/{tokens['mark@example.org']}")
        csrf = CSRF.search(page.text)
        assert page.status_code == 200 and csrf is not None
        saved = mark.post(
            f"/review/{tokens['mark@example.org']}",
            data={"csrf": csrf.group(1), f"stars-{ann}": "6", f"comment-{ann}": "Goed"},
        )
    json_saved = httpx.put(
        f"{api_url}/review/{tokens['lotte@extern.example']}/ratings",
        json={"ratings": [{"application_id": str(ann), "stars": 3}]},
    )
    assert saved.status_code == 200 and "opgeslagen" in saved.text
    assert json_saved.json() == {"saved": 1}

    review_id = outcome["result"]["review_id"]  # type: ignore[index]
    results = httpx.get(f"{api_url}/v1/panel-reviews/{review_id}", headers=tenant.headers).json()
    first = results["candidates"][0]["results"]
    assert first["summary"] == {"count": 2, "mean": 4.5, "median": 4.5, "min": 3, "max": 6}
    assert {(r["reviewer_name"], r["comment"]) for r in first["ratings"]} == {
        ("Mark", "Goed"),
        ("Lotte", None),
    }
    stored = " ".join(str(value) for _, _, value in every_value(pg))
    assert not any(token in stored for token in tokens.values())
