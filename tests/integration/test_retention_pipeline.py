"""Retention through the real processes on PostgreSQL and RabbitMQ, and what a purge
leaves: nothing of the canary applicant in ``pg_dump``, the stored documents, the
processes' access and application logs, the idempotency records or the dead letters."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from shared.db.database import Database
from shared.db.models import Application, ApplicationEvent, DeadLetter, IdempotencyRecord
from shared.messaging.dead_letters import record_dead_letter
from tests.conftest import Tenant, make_tenant
from tests.factories import new_key
from tests.mailbox import parsed
from tests.processes import BIN, run_over_http, running, service_env, wait_until
from tests.retention import advance_clock
from tests.seeds import seed_reference
from tests.smtp_sinks import Sink

pytestmark = pytest.mark.integration

NAME, EMAIL, PHONE = "Kanarie Zangvogelaar", "kanarie.zang@example.org", "+31 6 5550 1234"
CANARIES = (NAME, EMAIL, PHONE, "cv-kanarie", "Zangvogelaar")
CV = f"%PDF-1.4\n% {NAME}\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".encode()


@pytest.fixture
def env(postgres_url: str, amqp: str, tmp_path: Path) -> dict[str, str]:
    """Every process shares one document directory; the scheduler sweeps every second."""
    return {
        **service_env(postgres_url, amqp),
        "WERVING_DOCUMENTS_DIR": str(tmp_path / "documents"),
        "WERVING_RETENTION_SWEEP_INTERVAL_S": "1",
    }


@pytest.fixture
def document_worker(env: dict[str, str], tmp_path: Path) -> Iterator[None]:
    args = [str(BIN / "dramatiq"), "services.document_worker.actors", "--queues", "documents"]
    with running(
        [*args, "--processes", "1", "--threads", "1"],
        env=env,
        log_path=tmp_path / "document_worker.log",
    ):
        yield


def _traces(data: bytes | str) -> list[str]:
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    return [c for c in CANARIES if c in text]


def _pg_dump(postgres_url: str) -> str:
    if shutil.which("pg_dump") is None:
        pytest.fail("pg_dump is needed to read what the database holds", pytrace=False)
    dump = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", postgres_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dump.stdout


def _upload_cv(api_url: str, tenant: Tenant) -> str:
    response = httpx.post(
        f"{api_url}/v1/documents",
        content=CV,
        headers={
            **tenant.headers,
            "Idempotency-Key": new_key(),
            "Content-Type": "application/pdf",
            "Content-Disposition": 'attachment; filename="cv-kanarie.pdf"',
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.mark.usefixtures("relay_process", "worker_process", "mail_pipeline", "document_worker")
def test_retention_purges_a_rejected_applicant_and_leaves_no_trace_anywhere(
    pg: Database,
    postgres_url: str,
    api_url: str,
    sink: tuple[Sink, int],
    tmp_path: Path,
) -> None:
    # Given a canary applicant with a CV, a receipt, a printed letter, a note in the
    # history and a dead letter that names them; and a hired applicant on the same vacancy
    tenant = make_tenant(pg)
    ref = seed_reference(pg, tenant.organisation_id)
    cv_id = _upload_cv(api_url, tenant)
    canary = str(
        run_over_http(
            api_url,
            tenant.headers,
            {
                "type": "register_application",
                "vacancy_id": str(ref.vacancy_id),
                "applicant": {"name": NAME, "email": EMAIL, "phone": PHONE},
                "application_text": f"{NAME} would love to join.",
                "cv_document_id": cv_id,
                "send_receipt": True,
            },
        )["application_id"]
    )
    hired = str(
        run_over_http(
            api_url,
            tenant.headers,
            {
                "type": "register_application",
                "vacancy_id": str(ref.vacancy_id),
                "applicant": {"name": "Eva Bakker", "email": "eva.bakker@example.org"},
            },
        )["application_id"]
    )
    for application, command in (
        (canary, {"type": "send_letter", "letter": "received", "channel": "print"}),
        (
            canary,
            {
                "type": "reject_application",
                "rejection_type": "by_company",
                "reason_id": str(ref.reason_id),
                "note": f"{NAME}: not now",
            },
        ),
        (
            hired,
            {
                "type": "hire_applicant",
                "position_id": str(ref.position_id),
                "department_id": str(ref.department_id),
                "start_date": "2027-02-01",
            },
        ),
    ):
        run_over_http(api_url, tenant.headers, {**command, "application_id": application})
    documents = tmp_path / "documents"
    wait_until(lambda: len(list(documents.rglob("*.pdf"))) == 2, timeout_s=60, what="the letter")
    wait_until(lambda: len(sink[0].received) == 1, what="the receipt")
    with pg.transaction() as session:
        record_dead_letter(
            session,
            source="ingress",
            queue="commands",
            reason=f"invalid command envelope: note names {EMAIL}",
            body=json.dumps({"command": {"application_id": canary, "note": NAME}}),
            organisation_id=tenant.organisation_id,
        )
    closed = httpx.post(
        f"{api_url}/v1/vacancies/{ref.vacancy_id}/close",
        headers={**tenant.headers, "Idempotency-Key": new_key()},
    )
    assert closed.status_code == 200, closed.text
    assert _traces(_pg_dump(postgres_url)), "the canary is in the database before"
    dry_run = httpx.get(f"{api_url}/v1/retention/preview", headers=tenant.headers).json()
    assert dry_run["purges"] == []

    # When five weeks go by
    advance_clock(pg, days=35)
    dry_run = httpx.get(f"{api_url}/v1/retention/preview", headers=tenant.headers).json()
    application = f"{api_url}/v1/applications/{canary}"
    wait_until(
        lambda: httpx.get(application, headers=tenant.headers).status_code == 404,
        timeout_s=60,
        what="the scheduler's retention sweep to purge the canary",
    )
    wait_until(
        lambda: not [p for p in documents.rglob("*") if p.is_file()],
        timeout_s=60,
        what="the files to go",
    )

    # Then the dry-run named the canary alone, the scheduler purged it by retention, and
    # the hired applicant is kept
    assert [(p["application_id"], p["reason"]) for p in dry_run["purges"]] == [
        (canary, "application_ended")
    ]
    assert (
        httpx.get(f"{api_url}/v1/applications/{hired}", headers=tenant.headers).status_code == 200
    )
    with pg.transaction() as session:
        purged = session.scalars(
            select(ApplicationEvent.reason).where(
                ApplicationEvent.event_type == "application.purged"
            )
        ).all()
        assert session.get(Application, canary) is None
        keys = [json.dumps(r.response_body) for r in session.scalars(select(IdempotencyRecord))]
        letters = [f"{d.reason} {d.body}" for d in session.scalars(select(DeadLetter))]
    assert purged == ["retention"]
    # And nothing of the canary is left: not in the database's dump, the idempotency
    # records or the dead letters, the stored documents, or any process's log
    assert _traces(_pg_dump(postgres_url)) == []
    assert [t for k in keys for t in _traces(k)] == [] and [
        t for d in letters for t in _traces(d)
    ] == []
    logs = {path.name: _traces(path.read_bytes()) for path in tmp_path.glob("*.log")}
    assert "api.log" in logs and "status_worker.log" in logs and "scheduler.log" in logs
    assert {name: found for name, found in logs.items() if found} == {}


@pytest.mark.usefixtures("relay_process", "worker_process", "mail_pipeline")
def test_talent_pool_consent_is_asked_by_email_extended_through_its_link_or_left_to_lapse(
    pg: Database, postgres_url: str, api_url: str, sink: tuple[Sink, int]
) -> None:
    # Given two applicants saved to the talent pool (so with consent for 12 months)
    tenant = make_tenant(pg)
    ref = seed_reference(pg, tenant.organisation_id)
    saved = {}
    for name in ("Eva Blijft", "Kanarie Zangvogelaar"):
        email = name.lower().replace(" ", ".") + "@example.org"
        application = str(
            run_over_http(
                api_url,
                tenant.headers,
                {
                    "type": "register_application",
                    "vacancy_id": str(ref.vacancy_id),
                    "applicant": {"name": name, "email": email},
                },
            )["application_id"]
        )
        run_over_http(
            api_url, tenant.headers, {"type": "save_application", "application_id": application}
        )
        saved[email] = application
    stays, lapses = saved.values()

    # When eleven months and a week go by, the scheduler emails each a link
    advance_clock(pg, days=340)
    wait_until(lambda: len(sink[0].received) == 2, timeout_s=60, what="the two reminders")
    links = {}
    for raw in sink[0].received:
        message = parsed(raw)
        text = message.get_body(("plain",))
        assert text is not None
        [link] = re.findall(r"https?://\S+(/talent-pool/[A-Za-z0-9_-]+)", text.get_content())
        links[message["To"].addresses[0].addr_spec] = api_url + link
    # And one of them opens theirs and keeps their details
    stays_link = links["eva.blijft@example.org"]
    page = httpx.get(stays_link)
    extended = httpx.post(stays_link)
    assert page.status_code == 200 and "<form" in page.text
    assert extended.status_code == 200

    # When the twelve months are over
    advance_clock(pg, days=30)
    lapsed = f"{api_url}/v1/applications/{lapses}"
    wait_until(
        lambda: httpx.get(lapsed, headers=tenant.headers).status_code == 404,
        timeout_s=60,
        what="the scheduler to purge the lapsed consent",
    )

    # Then the lapsed applicant is gone, by retention, and the extended one is kept
    kept = httpx.get(f"{api_url}/v1/applications/{stays}", headers=tenant.headers)
    assert kept.status_code == 200
    with pg.transaction() as session:
        purged = session.scalars(
            select(ApplicationEvent.reason).where(
                ApplicationEvent.event_type == "application.purged"
            )
        ).all()
    assert purged == ["retention"]
    assert _traces(_pg_dump(postgres_url)) == []
