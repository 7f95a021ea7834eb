"""The attack catalogue in the real mail_worker, with another organisation served meanwhile.

Each attack is saved as an organisation's receipt template, hidden behind the sample
name so that saving accepts it (or refused when saved, whatever it hides behind). Then
every attacker's receipt is sent at once, interleaved with another organisation's
receipts, through the real API, status worker, scheduler, relay, RabbitMQ and one
mail_worker process (two threads), on PostgreSQL, to a real SMTP sink. The worker's peak
memory above its resting size is read from ``/proc`` (``VmHWM``, reset first).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path
from typing import Final

import httpx
import pytest
from sqlalchemy import select

from shared.db.database import Database
from shared.db.models import OutboundEmail, OutboxMessage
from tests.conftest import Tenant, make_tenant
from tests.factories import new_key, register_body
from tests.processes import wait_until
from tests.seeds import seed_reference
from tests.smtp_sinks import Sink
from tests.template_attacks import ATTACKS, HOSTILE_CONTEXT, Attack

pytestmark = pytest.mark.integration

# The extra peak memory the worker may take for all of it (issue 18).
MAX_EXTRA_PEAK_KB: Final = 16 * 1024
CLOCK: Final = ("rendering takes longer than", "rendering takes more than")
RECEIPT: Final = {
    "subject": "Thank you, {{ applicant_first_name }}",
    "text": "Dear {{ applicant_name }},\n\nWe received your letter for {{ vacancy_title }}.\n",
}
# The other organisation's own receipt, with what the sanitiser must take out on the way.
VICTIMS_OWN: Final = {
    **RECEIPT,
    "html": "<html><head><style>p { color: #123456; margin: 0 0 8px; }</style></head>"
    "<body><p>Dear {{ applicant_name }},</p><p>thank you for <b>{{ vacancy_title }}</b>."
    '</p><script>alert(1)</script><img src="https://tracker.example/p.gif" onerror="x()">'
    '<iframe src="https://evil.example/"></iframe><a href="javascript:steal()">win</a>'
    '<a href="https://jobs.example/status">your application</a></body></html>',
}


def _worker_pid(main: subprocess.Popen[bytes]) -> int:
    """The process Dramatiq's main process started to run the actors."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == main.pid:
            return int(stat.parent.name)
    raise AssertionError("the mail worker has no worker process")


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def _put_template(api_url: str, tenant: Tenant, html: str) -> httpx.Response:
    return httpx.put(
        f"{api_url}/v1/email-templates/receipt/nl",
        json={**RECEIPT, "html": html},
        headers={**tenant.headers, "Idempotency-Key": new_key()},
        timeout=30,
    )


def _register(api_url: str, tenant: Tenant, vacancy_id: uuid.UUID, name: str) -> str:
    """Register an application with a receipt; the command's location."""
    applicant = {"name": name, "email": f"{uuid.uuid4().hex[:12]}@example.org", "locale": "nl"}
    body = register_body(vacancy_id, send_receipt=True, applicant=applicant)
    response = httpx.post(
        f"{api_url}/v1/commands",
        json=body,
        headers={**tenant.headers, "Idempotency-Key": new_key()},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["location"])


def _emails(pg: Database, organisation_id: uuid.UUID) -> list[OutboundEmail]:
    with pg.transaction() as session:
        return list(
            session.scalars(
                select(OutboundEmail).where(OutboundEmail.organisation_id == organisation_id)
            )
        )


def _logged_ms(log: Path) -> dict[str, float]:
    """mail_worker's own figure for each failed email: the claim and the render, in ms."""
    figures = {}
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "email.template_failed" and entry.get("email_id"):
            figures[entry["email_id"]] = float(entry["ms"])
    return figures


@pytest.mark.usefixtures("relay_process", "worker_process")
def test_every_attack_is_refused_or_stopped_in_the_real_mail_worker_and_the_other_org_is_served(
    pg: Database,
    api_url: str,
    sink: tuple[Sink, int],
    mail_pipeline: subprocess.Popen[bytes],
    tmp_path: Path,
) -> None:
    received, _ = sink
    # Given another organisation, with its own (ordinary) receipt template
    victim = make_tenant(pg, name="Zorggroep Noord")
    victim_vacancy = seed_reference(pg, victim.organisation_id).vacancy_id
    assert _put_template(api_url, victim, VICTIMS_OWN["html"]).status_code == 201
    # And the worker warmed up on one of its receipts
    _register(api_url, victim, victim_vacancy, "Eerste Sollicitant")
    wait_until(lambda: len(received.received) == 1, timeout_s=90, what="the first receipt")

    # And an organisation per attack, its receipt template saved with the attack hidden
    attackers: dict[uuid.UUID, tuple[Attack, Tenant, uuid.UUID]] = {}
    for attack in ATTACKS:
        tenant = make_tenant(pg, name=f"Attacker {attack.id}")
        saved = _put_template(api_url, tenant, attack.hidden)
        if attack.stage == "save":  # Then saving refuses it, naming the part and why
            assert saved.status_code == 422, (attack.id, saved.text)
            assert saved.json()["detail"].startswith("html: ")
            assert attack.message in saved.json()["detail"], attack.id
            continue
        assert saved.status_code == 201, (attack.id, saved.text)
        attackers[tenant.organisation_id] = (
            attack,
            tenant,
            seed_reference(pg, tenant.organisation_id).vacancy_id,
        )

    # When every attacker's receipt is sent with a real applicant's name, at the same
    # time as the other organisation's receipts, the worker's peak reset first
    worker = _worker_pid(mail_pipeline)
    Path(f"/proc/{worker}/clear_refs").write_text("5")
    resting = _status_kb(worker, "VmRSS")
    started = time.monotonic()
    commands: dict[uuid.UUID, str] = {}
    for number, (organisation_id, (_attack, tenant, vacancy_id)) in enumerate(attackers.items()):
        name = str(HOSTILE_CONTEXT["applicant_name"])
        commands[organisation_id] = _register(api_url, tenant, vacancy_id, name)
        _register(api_url, victim, victim_vacancy, f"Sollicitant {number}")

    def all_settled() -> bool:
        failed = sum(
            1 for org in attackers for email in _emails(pg, org) if email.state == "failed"
        )
        return failed == len(attackers) and len(received.received) == len(attackers) + 1

    wait_until(all_settled, timeout_s=300, what="every receipt failed or sent")
    elapsed = time.monotonic() - started
    peak = _status_kb(worker, "VmHWM") - resting

    # Then every attacker's email is failed with the template's problem, and told
    figures = _logged_ms(tmp_path / "mail_worker.log")
    with pg.transaction() as session:
        told = Counter(
            str(payload["email_id"])
            for payload in session.scalars(
                select(OutboxMessage.payload).where(OutboxMessage.destination == "email.failed")
            )
        )
    for organisation_id, (attack, tenant, _vacancy) in attackers.items():
        [email] = _emails(pg, organisation_id)
        reply = email.smtp_reply or ""
        # (the command that asked for it succeeded, and says so; the email failed on its own)
        outcome = httpx.get(f"{api_url}{commands[organisation_id]}", headers=tenant.headers)
        assert outcome.json()["status"] == "succeeded", attack.id
        where = "template_error: receipt/nl organisation template v1: html: line "
        assert any(reply.startswith(f"{where}{line}: ") for line in attack.lines), reply
        assert attack.message in reply or any(clock in reply for clock in CLOCK), (attack.id, reply)
        assert told[str(email.id)] == 1, attack.id
        print(  # noqa: T201 - figures to read with -s, never asserted
            f"{attack.id}: stopped after {figures.get(str(email.id), float('nan')):.0f} ms"
            f" in mail_worker: {reply.removeprefix(where)[:90]}"
        )
    # And the organisation reads why on its application's emails
    attack, tenant, _vacancy = next(iter(attackers.values()))
    [email] = _emails(pg, tenant.organisation_id)
    listed = httpx.get(
        f"{api_url}/v1/applications/{email.application_id}/emails", headers=tenant.headers
    ).json()["items"]
    assert [(e["state"], e["smtp_reply"]) for e in listed] == [("failed", email.smtp_reply)]
    # And the other organisation's receipts were all delivered meanwhile, sanitised
    assert {email.state for email in _emails(pg, victim.organisation_id)} == {"sent"}
    assert all(b"Zorggroep Noord" in raw for raw in received.received)
    html = message_from_bytes(received.received[-1], policy=policy.default).get_body(("html",))
    assert html is not None
    content = html.get_content()
    for gone in ("<script", "alert(1)", "tracker.example", "onerror", "<iframe", "javascript:"):
        assert gone not in content
    assert '<p style="color:#123456;margin:0 0 8px">' in content and "<b>Nurse</b>" in content
    assert '<a href="https://jobs.example/status" rel="noopener noreferrer">' in content
    # And the worker stayed within the memory bound all along
    print(  # noqa: T201
        f"{len(attackers)} attacks and {len(attackers) + 1} receipts in {elapsed:.1f} s;"
        f" mail_worker peak {peak / 1024:.1f} MB above its resting {resting / 1024:.1f} MB"
    )
    assert peak <= MAX_EXTRA_PEAK_KB
