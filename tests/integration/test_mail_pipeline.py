"""Emails on the real path: status -> scheduler -> relay -> RabbitMQ -> mail_worker -> SMTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest

from shared.db.database import Database
from tests.conftest import make_tenant
from tests.factories import new_key
from tests.processes import BIN, running, wait_until, werving
from tests.seeds import seed_reference
from tests.smtp_sinks import Sink, smtp_sink

pytestmark = pytest.mark.integration


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    with smtp_sink() as (sink, port):
        yield sink, port


@pytest.fixture
def mail_pipeline(env: dict[str, str], sink: tuple[Sink, int], tmp_path: Path) -> Iterator[None]:
    mail_env = {**env, "WERVING_SMTP_PORT": str(sink[1])}
    mail_worker = [
        str(BIN / "dramatiq"),
        "services.mail_worker.actors",
        "--queues",
        "mail",
        "--processes",
        "1",
        "--threads",
        "2",
    ]
    with (
        running(werving("scheduler"), env=env, log_path=tmp_path / "scheduler.log"),
        running(mail_worker, env=mail_env, log_path=tmp_path / "mail_worker.log"),
    ):
        yield


@pytest.mark.usefixtures("relay_process", "worker_process", "mail_pipeline")
def test_a_receipt_reaches_the_smtp_server_and_a_cancelled_rejection_never_does(
    pg: Database, api_url: str, sink: tuple[Sink, int]
) -> None:
    received, _ = sink
    tenant = make_tenant(pg, name="Acme Zorg")
    ref = seed_reference(pg, tenant.organisation_id)
    headers = tenant.headers

    def post(body: dict[str, object]) -> dict[str, object]:
        response = httpx.post(
            f"{api_url}/v1/commands", json=body, headers={**headers, "Idempotency-Key": new_key()}
        )
        assert response.status_code == 202, response.text
        location = response.json()["location"]
        wait_until(
            lambda: httpx.get(api_url + location, headers=headers).json()["status"] != "accepted",
            what=str(body["type"]),
        )
        outcome: dict[str, object] = httpx.get(api_url + location, headers=headers).json()
        assert outcome["status"] == "succeeded", outcome
        return outcome

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
