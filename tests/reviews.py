"""A panel review for a test: two candidates, reviewers invited, their links from the mail."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from shared.db.database import Database
from shared.statuses import ApplicationStatus
from tests.conftest import Tenant
from tests.mailbox import deliver_due_mail, parsed
from tests.seeds import Reference, seed_application, seed_reference
from tests.workflow import run

LINK = re.compile(r"/review/([A-Za-z0-9_-]{20,})")


@dataclass(frozen=True)
class Review:
    review_id: uuid.UUID
    reference: Reference
    applications: list[uuid.UUID]
    reviewer_ids: list[uuid.UUID]
    tokens: dict[str, str]  # reviewer email -> the token in their invitation


def request_review(
    db: Database,
    tenant: Tenant,
    *,
    reviewers: tuple[str, ...] = ("mark@example.org", "lotte@extern.example"),
    **fields: object,
) -> Review:
    ref = seed_reference(db, tenant.organisation_id)
    applications = [
        seed_application(db, tenant.organisation_id, ref.vacancy_id, status, name=name)
        for status, name in (
            (ApplicationStatus.RECEIVED, "Ann de Vries"),
            (ApplicationStatus.INTERVIEW, "Bram Jansen"),
        )
    ]
    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "request_panel_review",
            "application_ids": [str(a) for a in applications],
            "reviewers": [
                {"email": email, "name": email.split("@")[0].title(), "kind": "internal"}
                for email in reviewers
            ],
            "message": "Graag voor vrijdag.",
            "actor": "Petra Recruiter",
            **fields,
        },
    )
    assert record.status == "succeeded", record.outcome_message
    assert record.result is not None
    return Review(
        review_id=uuid.UUID(record.result["review_id"]),
        reference=ref,
        applications=applications,
        reviewer_ids=[uuid.UUID(r) for r in record.result["reviewer_ids"]],
        tokens=invitation_links(db),
    )


def invitation_links(db: Database) -> dict[str, str]:
    """Send the due invitations; the token each reviewer received, by email address."""
    tokens = {}
    for raw in deliver_due_mail(db).received:
        message = parsed(raw)
        body = message.get_body(("plain",))
        assert body is not None
        found = LINK.search(body.get_content())
        assert found is not None, "an invitation without a review link"
        tokens[str(message["To"])] = found.group(1)
    return tokens
