"""document_worker's jobs: a contract, a printed letter and an anonymized profile, from
command to a stored PDF (and, for the contract, the email job that sends it)."""

from __future__ import annotations

import hashlib
import uuid
from io import BytesIO

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select

from services.document_worker.pdf import Renderer
from shared.db.database import Database
from shared.db.models import OutboxMessage, ScheduledJob
from shared.documents.storage import LocalDirectoryStorage
from tests.conftest import Tenant
from tests.documents import offered_application, pdf_text, render_due_documents
from tests.factories import new_key
from tests.mailbox import deliver_due_mail, parsed
from tests.seeds import seed_reference
from tests.workflow import run

CONTRACT = {
    "type": "send_employment_contract",
    "job_title": "Verpleegkundige IC",
    "salary": {"amount": "3512.50", "currency": "EUR", "period": "month"},
    "hours_per_week": "32.5",
    "start_date": "2027-03-01",
    "end_date": "2028-02-29",
    "probation_months": 1,
    "place_of_work": "Utrecht",
    "holiday_days": 25,
}


def test_a_contract_is_rendered_stored_and_handed_to_the_mail_worker(
    db: Database, tenant: Tenant, storage: LocalDirectoryStorage, renderer: Renderer
) -> None:
    application_id = offered_application(db, tenant)
    record = run(db, tenant.organisation_id, {**CONTRACT, "application_id": str(application_id)})
    assert record.status == "succeeded"

    [document] = render_due_documents(db, storage, renderer)

    data = storage.get(document.storage_key)
    assert (document.kind, document.purpose, document.version) == ("contract", "contract", 1)
    assert (document.application_id, document.command_id) == (application_id, record.id)
    assert document.sha256 == hashlib.sha256(data).hexdigest()
    assert document.size_bytes == len(data)
    assert document.filename == "arbeidsovereenkomst-v1.pdf"
    text = pdf_text(data)
    for expected in (
        "Arbeidsovereenkomst",
        "Ann de Vries",
        "Verpleegkundige IC",
        "€ 3.512,50 per maand",
        "32,5 uur per week",
        "1 maart 2027",
        "29 februari 2028",
        "Utrecht",
        "25 vakantiedagen",
        "Pagina 1 van",
    ):
        assert expected in text, expected
    reader = PdfReader(BytesIO(data))
    assert len(reader.pages) == document.pages
    xmp = reader.xmp_metadata  # PDF/A-3b, so that the contract can be archived
    assert xmp is not None and (xmp.pdfaid_part, xmp.pdfaid_conformance) == ("3", "B")
    assert xmp.dc_title == {"x-default": "Arbeidsovereenkomst"}
    assert reader.metadata is not None and reader.metadata.author == "Acme"
    with db.transaction() as session:
        mail = session.scalars(select(ScheduledJob).where(ScheduledJob.kind == "mail")).one()
        created = session.scalars(
            select(OutboxMessage).where(OutboxMessage.destination == "document.created")
        ).one()
    assert (mail.purpose, mail.payload["document_ids"]) == ("contract", [str(document.id)])
    assert created.payload["document_id"] == str(document.id)
    assert "Ann" not in str(created.payload)


def test_an_english_contract_formats_money_and_dates_the_english_way(
    db: Database, tenant: Tenant, storage: LocalDirectoryStorage, renderer: Renderer
) -> None:
    application_id = offered_application(db, tenant, locale="en")
    run(db, tenant.organisation_id, {**CONTRACT, "application_id": str(application_id)})

    [document] = render_due_documents(db, storage, renderer)

    text = pdf_text(storage.get(document.storage_key))
    for expected in (
        "Employment contract",
        "€3,512.50 per month",
        "32.5 hours per week",
        "1 March 2027",
        "29 February 2028",
        "Page 1 of",
    ):
        assert expected in text, expected
    assert document.filename == "employment-contract-v1.pdf"


def test_a_contract_job_delivered_twice_stores_one_document_and_one_email_job(
    db: Database, tenant: Tenant, storage: LocalDirectoryStorage, renderer: Renderer
) -> None:
    application_id = offered_application(db, tenant)
    run(db, tenant.organisation_id, {**CONTRACT, "application_id": str(application_id)})

    documents = render_due_documents(db, storage, renderer, times=2)

    assert len(documents) == 1
    assert [p.name for p in storage.root.rglob("*.pdf")] == [f"{documents[0].id}.pdf"]
    with db.transaction() as session:
        mails = session.scalars(select(ScheduledJob).where(ScheduledJob.kind == "mail")).all()
    assert len(mails) == 1


def test_a_second_contract_is_the_next_version(
    db: Database, tenant: Tenant, storage: LocalDirectoryStorage, renderer: Renderer
) -> None:
    application_id = offered_application(db, tenant)
    for hours in ("36", "32"):
        body = {**CONTRACT, "application_id": str(application_id), "hours_per_week": hours}
        run(db, tenant.organisation_id, body)
        render_due_documents(db, storage, renderer)

    documents = render_due_documents(db, storage, renderer)

    assert [d.version for d in documents] == [1, 2]
    assert "32 uur per week" in pdf_text(storage.get(documents[1].storage_key))


def test_a_printed_letter_is_stored_for_download_and_not_emailed(
    db: Database, tenant: Tenant, storage: LocalDirectoryStorage, renderer: Renderer
) -> None:
    application_id = offered_application(db, tenant)
    run(
        db,
        tenant.organisation_id,
        {
            "type": "send_letter",
            "application_id": str(application_id),
            "letter": "received",
            "channel": "print",
        },
    )

    [document] = render_due_documents(db, storage, renderer)

    assert (document.kind, document.purpose) == ("letter", "letter_received")
    text = pdf_text(storage.get(document.storage_key))
    assert "Ann de Vries" in text and "Nurse" in text
    with db.transaction() as session:
        assert session.scalars(select(ScheduledJob).where(ScheduledJob.kind == "mail")).all() == []


def test_the_contract_email_carries_the_stored_pdf(
    db: Database, tenant: Tenant, storage: LocalDirectoryStorage, renderer: Renderer
) -> None:
    application_id = offered_application(db, tenant, locale="en")
    body = {**CONTRACT, "application_id": str(application_id), "message": "Welcome aboard!"}
    run(db, tenant.organisation_id, body)
    [document] = render_due_documents(db, storage, renderer)

    sink = deliver_due_mail(db, documents=storage)

    [raw] = sink.received
    email = parsed(raw)
    assert email["Subject"] == "Your employment contract for the Nurse position"
    text = email.get_body(("plain",))
    assert text is not None and "Welcome aboard!" in text.get_content()
    [attachment] = list(email.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "employment-contract-v1.pdf"
    assert attachment.get_content() == storage.get(document.storage_key)


def test_an_anonymized_forward_sends_a_profile_without_name_email_phone_or_cv(
    db: Database, tenant: Tenant, storage: LocalDirectoryStorage, renderer: Renderer
) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    canary = {"name": "Canary Klaassen", "email": "canary.klaassen@example.org"}
    registered = run(
        db,
        tenant.organisation_id,
        {
            "type": "register_application",
            "vacancy_id": str(ref.vacancy_id),
            "applicant": {**canary, "phone": "+31 6 12345678", "locale": "en"},
            "application_text": "Canary Klaassen writes: I live at Canarystraat 7.",
        },
    )
    application_id = registered.application_id
    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "forward_cv",
            "application_id": str(application_id),
            "to": ["panel@example.org"],
            "anonymize": True,
            "message": "What do you think?",
        },
    )
    assert record.status == "succeeded"

    [profile] = render_due_documents(db, storage, renderer)
    sink = deliver_due_mail(db, documents=storage)

    raw = sink.received[0]
    email = parsed(raw)
    assert sink.envelopes[0][1] == ["panel@example.org"]
    [attachment] = list(email.iter_attachments())
    pdf = attachment.get_content()
    assert pdf == storage.get(profile.storage_key)
    profile_text = pdf_text(pdf)
    everything = (
        raw.decode()
        + "".join(str(p.get_content()) for p in email.walk() if p.get_content_maintype() == "text")
        + profile_text
        + pdf.decode("latin-1")
        + str(attachment.get_filename())
    )
    for value in ("Canary", "Klaassen", "canary.klaassen", "12345678", str(application_id)):
        assert value not in everything, value
    with db.transaction() as session:
        code = session.scalars(
            select(ScheduledJob.payload).where(ScheduledJob.kind == "document")
        ).one()["reference_code"]
    assert code in profile_text and code in str(attachment.get_filename()).upper()
    assert "What do you think?" in profile_text
    assert (profile.kind, profile.purpose) == ("profile", "profile")


def test_purging_an_application_erases_its_documents_and_their_files(
    db: Database, tenant: Tenant, storage: LocalDirectoryStorage, renderer: Renderer
) -> None:
    application_id = offered_application(db, tenant)
    run(db, tenant.organisation_id, {**CONTRACT, "application_id": str(application_id)})
    [document] = render_due_documents(db, storage, renderer)
    for command in ("delete_application", "purge_application"):
        body = {"type": command, "application_id": str(application_id)}
        assert run(db, tenant.organisation_id, body).status == "succeeded"

    left = render_due_documents(db, storage, renderer)  # carries out the erase job

    assert left == []
    assert not storage.exists(document.storage_key)
    assert list(storage.root.rglob("*.pdf")) == []


@pytest.mark.parametrize(
    ("missing", "field"),
    [("salary", "salary"), ("start_date", "start_date"), ("place_of_work", "place_of_work")],
)
def test_a_contract_without_a_required_field_is_refused_before_anything_renders(
    client: TestClient, db: Database, tenant: Tenant, missing: str, field: str
) -> None:
    application_id = offered_application(db, tenant)
    body = {k: v for k, v in CONTRACT.items() if k != missing}

    response = client.post(
        "/v1/commands",
        json={**body, "application_id": str(application_id)},
        headers={**tenant.headers, "Idempotency-Key": new_key()},
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    with db.transaction() as session:
        assert session.scalars(select(ScheduledJob)).all() == []


def test_a_contract_that_ends_before_it_starts_is_refused(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    application_id = offered_application(db, tenant)
    body = {**CONTRACT, "application_id": str(application_id), "end_date": "2027-02-01"}

    response = client.post(
        "/v1/commands", json=body, headers={**tenant.headers, "Idempotency-Key": new_key()}
    )

    assert response.status_code == 422
    assert "end_date must be after start_date" in response.json()["detail"]


def test_an_ad_hoc_email_attaches_the_applications_stored_documents_and_replies_to_the_recruiter(
    db: Database, tenant: Tenant, storage: LocalDirectoryStorage, renderer: Renderer
) -> None:
    application_id = offered_application(db, tenant)
    run(db, tenant.organisation_id, {**CONTRACT, "application_id": str(application_id)})
    [contract] = render_due_documents(db, storage, renderer)
    deliver_due_mail(db, documents=storage)  # the contract email itself
    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "send_email",
            "application_id": str(application_id),
            "subject": "Your contract, once more",
            "text": "Attached again, as asked.",
            "attachments": [str(contract.id)],
            "reply_to": "petra.recruiter@example.org",
        },
    )

    sink = deliver_due_mail(db, documents=storage)

    assert record.status == "succeeded"
    [raw] = sink.received
    email = parsed(raw)
    assert email["Reply-To"] == "petra.recruiter@example.org"
    assert "petra" not in str(email["From"])
    [attachment] = list(email.iter_attachments())
    assert attachment.get_filename() == contract.filename
    assert attachment.get_content() == storage.get(contract.storage_key)


def test_an_ad_hoc_email_refuses_a_document_of_another_application(
    db: Database, tenant: Tenant, storage: LocalDirectoryStorage, renderer: Renderer
) -> None:
    first, second = offered_application(db, tenant), offered_application(db, tenant)
    run(db, tenant.organisation_id, {**CONTRACT, "application_id": str(first)})
    [contract] = render_due_documents(db, storage, renderer)
    unknown = uuid.uuid4()

    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "send_email",
            "application_id": str(second),
            "subject": "Not yours",
            "text": "-",
            "attachments": [str(contract.id), str(unknown)],
        },
    )

    assert (record.status, record.outcome_code) == ("rejected", "unknown_document")
    assert str(contract.id) in (record.outcome_message or "")
    assert str(unknown) in (record.outcome_message or "")
    with db.transaction() as session:
        jobs = session.scalars(select(ScheduledJob).where(ScheduledJob.purpose == "ad_hoc"))
        assert jobs.all() == []
