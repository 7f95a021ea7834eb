"""Emails on the real path: status -> scheduler -> relay -> RabbitMQ -> mail_worker -> SMTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest

from shared.db.database import Database
from tests.conftest import make_tenant
from tests.processes import run_over_http, wait_until
from tests.seeds import seed_reference
from tests.smtp_sinks import Sink

pytestmark = pytest.mark.integration


@pytest.mark.usefixtures("relay_process", "worker_process", "mail_pipeline")
def test_a_receipt_reaches_the_smtp_server_and_a_cancelled_rejection_never_does(
    pg: Database, api_url: str, sink: tuple[Sink, int]
) -> None:
    received, _ = sink
    tenant = make_tenant(pg, name="Acme Zorg")
    ref = seed_reference(pg, tenant.organisation_id)
    headers = tenant.headers

    def post(body: dict[str, object]) -> dict[str, object]:
        return run_over_http(api_url, headers, body)

    # Given an application registered with a receipt
    registered = post(
        {
            "type": "register_application",
            "vacancy_id": str(ref.vacancy_id),
            "send_receipt": True,
            "applicant": {"name": "Ann de Vries", "email": "ann@example.org", "locale": "nl"},
        }
    )
    wait_until(lambda: len(received.received) == 1, timeout_s=60, what="the receipt")
    receipt = message_from_bytes(received.received[0], policy=policy.default)
    assert receipt["To"] == "Ann de Vries <ann@example.org>"
    assert "Acme Zorg" in str(receipt["From"])
    # When a rejection is scheduled a few seconds ahead and then undone
    send_at = datetime.now(UTC) + timedelta(seconds=4)
    post(
        {
            "type": "reject_application",
            "application_id": registered["application_id"],
            "rejection_type": "by_company",
            "reason_id": str(ref.reason_id),
            "email": {"send_at": send_at.isoformat()},
        }
    )
    post({"type": "unreject_application", "application_id": registered["application_id"]})
    # Then, well past its send time, the SMTP server still has only the receipt
    time.sleep(max(0.0, (send_at - datetime.now(UTC)).total_seconds()) + 4)
    assert len(received.received) == 1
