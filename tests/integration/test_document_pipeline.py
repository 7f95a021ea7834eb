"""Contracts on the real path: API -> status_worker -> scheduler -> relay -> RabbitMQ ->
document_worker (WeasyPrint, S3 on moto's server) -> mail_worker -> SMTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shared.db.database import Database
from shared.db.models import Document, OutboundEmail, OutboxMessage
from shared.statuses import ApplicationStatus
from tests.conftest import make_tenant
from tests.documents import pdf_text
from tests.integration.conftest import S3_REGION
from tests.outbox import outgoing, publish
from tests.processes import BIN, run_over_http, running, service_env, wait_until
from tests.seeds import seed_application, seed_reference
from tests.smtp_sinks import Sink

pytestmark = pytest.mark.integration


@pytest.fixture
def env(postgres_url: str, amqp: str, s3_endpoint: str, bucket: str) -> dict[str, str]:
    """Every process stores documents in the same S3 bucket."""
    return {
        **service_env(postgres_url, amqp),
        "WERVING_DOCUMENT_STORAGE": "s3",
        "WERVING_S3_BUCKET": bucket,
        "WERVING_S3_ENDPOINT_URL": s3_endpoint,
        "WERVING_S3_REGION": S3_REGION,
        "WERVING_S3_ACCESS_KEY_ID": "test",
        "WERVING_S3_SECRET_ACCESS_KEY": "test",
    }


@pytest.fixture
def document_worker(env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    log_path = tmp_path / "document_worker.log"
    args = [
        str(BIN / "dramatiq"),
        "services.document_worker.actors",
        "--queues",
        "documents",
        "--processes",
        "1",
        "--threads",
        "2",
    ]
    with running(args, env=env, log_path=log_path):
        yield log_path


def _republish_document_tasks(pg: Database, amqp: str) -> int:
    """Publish the documents queue's messages once more, as a redelivery would."""
    with pg.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.destination == "documents")
        ).all()
        messages = outgoing(rows)
    publish(amqp, messages)
    return len(messages)


@pytest.mark.usefixtures("relay_process", "worker_process", "mail_pipeline")
def test_a_contract_is_rendered_stored_in_s3_and_emailed_once_even_when_redelivered(
    pg: Database,
    api_url: str,
    sink: tuple[Sink, int],
    amqp: str,
    s3_client: Any,
    bucket: str,
    document_worker: Path,
) -> None:
    received, _ = sink
    tenant = make_tenant(pg, name="Zorggroep Noord")
    ref = seed_reference(pg, tenant.organisation_id)
    application_id = seed_application(
        pg, tenant.organisation_id, ref.vacancy_id, ApplicationStatus.OFFERED, name="Ann de Vries"
    )

    # When the recruiter sends the employment contract
    run_over_http(
        api_url,
        tenant.headers,
        {
            "type": "send_employment_contract",
            "application_id": str(application_id),
            "job_title": "Verpleegkundige",
            "salary": {"amount": "3400", "currency": "EUR", "period": "month"},
            "hours_per_week": "36",
            "start_date": "2027-04-01",
            "place_of_work": "Groningen",
        },
    )

    # Then the applicant receives one email with the contract as a PDF
    wait_until(lambda: len(received.received) == 1, timeout_s=90, what="the contract email")
    email = message_from_bytes(received.received[0], _class=EmailMessage, policy=policy.default)
    assert isinstance(email, EmailMessage)
    [attachment] = list(email.iter_attachments())
    pdf = attachment.get_content()
    assert attachment.get_content_type() == "application/pdf"
    text = pdf_text(pdf)
    assert "Ann de Vries" in text and "€ 3.400,00 per maand" in text and "1 april 2027" in text
    # And the same bytes are stored in S3 and served by the API
    listed = httpx.get(
        f"{api_url}/v1/applications/{application_id}/documents", headers=tenant.headers
    ).json()["items"]
    [document] = listed
    downloaded = httpx.get(f"{api_url}{document['download']}", headers=tenant.headers)
    assert downloaded.content == pdf
    stored = s3_client.get_object(
        Bucket=bucket, Key=f"{tenant.organisation_id}/{document['id']}.pdf"
    )
    assert stored["Body"].read() == pdf

    # When RabbitMQ delivers the document job again
    assert _republish_document_tasks(pg, amqp) == 1
    wait_until(
        lambda: "document.already_stored" in document_worker.read_text(),
        timeout_s=30,
        what="the redelivered job",
    )
    time.sleep(2)  # what a second email would need to reach the sink

    # Then nothing more is stored or sent
    with pg.transaction() as session:
        documents = session.scalar(select(func.count()).select_from(Document))
        emails = session.scalar(select(func.count()).select_from(OutboundEmail))
    assert (documents, emails, len(received.received)) == (1, 1, 1)
    objects = s3_client.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in objects] == [f"{tenant.organisation_id}/{document['id']}.pdf"]
