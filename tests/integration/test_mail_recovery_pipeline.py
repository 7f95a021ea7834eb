"""No email is forgotten: mail_worker killed in the middle of an SMTP transaction and started
again within the lease, on the real path (API, status_worker, scheduler, relay, RabbitMQ,
mail_worker, an SMTP server that never answers DATA)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from shared.db.database import Database
from shared.db.models import OutboundEmail, OutboxMessage
from shared.statuses import ApplicationStatus
from tests.conftest import make_tenant
from tests.factories import register_body
from tests.processes import run_over_http, run_werving, wait_until
from tests.seeds import seed_application, seed_reference
from tests.smtp_sinks import StallingSink, serving
from tests.system import System, running_system

pytestmark = pytest.mark.integration

LEASE_S = 30  # the shortest lease the settings allow


@pytest.fixture
def stalling() -> Iterator[tuple[StallingSink, int]]:
    """An SMTP server that takes the first two messages and never answers their DATA."""
    sink = StallingSink(stall=2)
    with serving(sink) as port:
        yield sink, port
        sink.release.set()


@pytest.fixture
def system(
    env: dict[str, str], stalling: tuple[StallingSink, int], tmp_path: Path
) -> Iterator[System]:
    mail_env = {
        **env,
        "WERVING_SMTP_PORT": str(stalling[1]),
        "WERVING_MAIL_LEASE_S": str(LEASE_S),
        "WERVING_DOCUMENTS_DIR": str(tmp_path / "documents"),
    }
    names = ("api", "relay", "status_worker", "scheduler", "mail_worker")
    with running_system(mail_env, tmp_path, names) as running:
        yield running


def _emails(pg: Database) -> dict[str, OutboundEmail]:
    with pg.transaction() as session:
        rows = session.scalars(select(OutboundEmail)).all()
        for row in rows:
            session.expunge(row)
    return {row.purpose: row for row in rows}


def _report(env: dict[str, str]) -> dict[str, Any]:
    done = run_werving(env, "queues", "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_emails_in_flight_when_mail_worker_is_killed_are_settled_after_their_lease(
    system: System, pg: Database, env: dict[str, str], stalling: tuple[StallingSink, int]
) -> None:
    sink, _ = stalling
    tenant = make_tenant(pg, name="Acme Zorg")
    ref = seed_reference(pg, tenant.organisation_id)
    # Given a receipt (sent again when its outcome is unknown) and an offer (never sent
    # twice), both inside their SMTP transaction, which the server never finishes
    register = register_body(ref.vacancy_id, send_receipt=True)
    run_over_http(system.api_url, tenant.headers, register)
    candidate = seed_application(
        pg, tenant.organisation_id, ref.vacancy_id, ApplicationStatus.INTERVIEW
    )
    offer: dict[str, object] = {
        "type": "send_offer",
        "application_id": str(candidate),
        "salary": {"amount": "3400", "currency": "EUR", "period": "month"},
        "start_date": "2027-04-01",
    }
    run_over_http(system.api_url, tenant.headers, offer)
    wait_until(lambda: sink.stalled == 2, timeout_s=60, what="both emails in DATA")
    # When mail_worker is killed there and started again at once, within the lease
    system.kill("mail_worker")
    killed = time.monotonic()
    system.start("mail_worker")
    # Then, while the lease runs, `werving queues` shows both emails being sent
    stuck = _report(env)["emails"]
    assert stuck["sending"]["count"] == 2
    assert {e.state for e in _emails(pg).values()} == {"sending"}

    # And once it ran out, with no one doing anything: the receipt is sent again, with the
    # Message-ID it was given before the first attempt
    def settled() -> bool:
        emails = _emails(pg)
        return (emails["receipt"].state, emails["offer"].state) == ("sent", "unknown")

    wait_until(settled, timeout_s=LEASE_S + 90, what="the receipt sent, the offer settled")
    healed_s = time.monotonic() - killed
    emails = _emails(pg)
    [received] = sink.received
    assert message_from_bytes(received, policy=policy.default)["Message-ID"] == (
        emails["receipt"].message_id_header
    )
    assert emails["receipt"].attempts == 2
    # and the offer, which the server may have had, is never sent again: it is reported
    # (email.failed with state unknown) for a person to check
    with pg.transaction() as session:
        told = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.destination == "email.failed")
        ).all()
    assert [(t["email_id"], t["state"]) for t in told] == [(str(emails["offer"].id), "unknown")]
    after = _report(env)["emails"]
    assert (after["sending"]["count"], after["pending"]["count"]) == (0, 0)
    assert (after["unknown"]["count"], after["unknown"]["past_time"]) == (1, 1)
    assert system.exited() == {}
    print(  # noqa: T201 - a figure, not an assertion
        f"\nkilled mid-DATA: settled {healed_s:.1f} s after the kill (lease {LEASE_S} s)"
    )
