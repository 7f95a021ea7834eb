"""Applicants' CVs: uploaded before registration, listed with the application, forwarded
when asked (never in an anonymized forward), erased with the applicant."""

from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Iterator
from io import BytesIO

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.document_worker.pdf import Renderer
from shared.db.database import Database
from shared.db.models import IdempotencyRecord
from shared.documents.storage import LocalDirectoryStorage
from tests.conftest import Tenant
from tests.documents import render_due_documents
from tests.factories import new_key, register_body
from tests.mailbox import deliver_due_mail, parsed
from tests.seeds import seed_reference
from tests.workflow import run

# A tiny PDF whose bytes carry a canary: an anonymized forward must never carry them.
CV = b"%PDF-1.4\n% Canary Klaassen CV-CANARY-7f3a\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _upload(
    client: TestClient,
    tenant: Tenant,
    data: bytes = CV,
    content_type: str = "application/pdf",
    filename: str = "cv-canary.pdf",
) -> httpx.Response:
    response: httpx.Response = client.post(
        "/v1/documents",
        content=data,
        headers={
            **tenant.headers,
            "Idempotency-Key": new_key(),
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )
    return response


def _register(db: Database, tenant: Tenant, cv_id: object) -> uuid.UUID:
    ref = seed_reference(db, tenant.organisation_id)
    record = run(
        db,
        tenant.organisation_id,
        register_body(
            ref.vacancy_id,
            applicant={"name": "Canary Klaassen", "email": "canary@example.org"},
            cv_document_id=str(cv_id),
        ),
    )
    assert record.status == "succeeded", record.outcome_message
    assert record.application_id is not None
    return record.application_id


def test_an_uploaded_cv_is_listed_with_the_application_that_names_it(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    uploaded = _upload(client, tenant)
    application_id = _register(db, tenant, uploaded.json()["id"])

    listed = client.get(f"/v1/applications/{application_id}/documents", headers=tenant.headers)
    downloaded = client.get(uploaded.json()["download"], headers=tenant.headers)

    assert uploaded.status_code == 201
    assert uploaded.json()["kind"] == "cv" and uploaded.json()["filename"] == "cv-canary.pdf"
    assert [d["id"] for d in listed.json()["items"]] == [uploaded.json()["id"]]
    assert downloaded.content == CV


def test_the_file_name_may_still_come_in_the_query_but_not_twice_nor_not_at_all(
    client: TestClient, tenant: Tenant
) -> None:
    # Given a CV upload with its name in the deprecated query parameter, in both places,
    # or in neither
    def upload(params: dict[str, str], headers: dict[str, str]) -> httpx.Response:
        response: httpx.Response = client.post(
            "/v1/documents",
            params=params,
            content=CV,
            headers={
                **tenant.headers,
                "Idempotency-Key": new_key(),
                "Content-Type": "application/pdf",
                **headers,
            },
        )
        return response

    header = {"Content-Disposition": "attachment; filename=cv-old.pdf"}
    # When each is sent
    query_only = upload({"filename": "cv-old.pdf"}, {})
    both = upload({"filename": "cv-old.pdf"}, header)
    neither = upload({}, {})
    # Then the query form still works, and the others are refused naming the header
    assert (query_only.status_code, query_only.json()["filename"]) == (201, "cv-old.pdf")
    assert [(r.status_code, r.json()["errors"][0]["field"]) for r in (both, neither)] == [
        (422, "content-disposition"),
        (422, "content-disposition"),
    ]


def test_registering_with_an_unknown_cv_is_refused(db: Database, tenant: Tenant) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    missing = uuid.uuid4()

    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "register_application",
            "vacancy_id": str(ref.vacancy_id),
            "applicant": {"name": "Ann de Vries", "email": "ann@example.org"},
            "cv_document_id": str(missing),
        },
    )

    assert (record.status, record.outcome_code) == ("rejected", "unknown_document")
    assert str(missing) in (record.outcome_message or "")


@pytest.mark.parametrize(
    ("data", "content_type", "filename", "field"),
    [
        (CV, "text/html", "cv.pdf", "content-type"),
        (b"<html>not a pdf</html>", "application/pdf", "cv.pdf", "body"),
        (CV, "application/pdf", "../../etc/cv.pdf", "content-disposition"),
        (CV, "application/pdf", "cv.exe", "content-disposition"),
        (CV + b"\0" * (10 * 1024 * 1024), "application/pdf", "cv.pdf", "body"),
    ],
)
def test_an_upload_that_is_not_a_small_pdf_or_docx_is_refused(
    client: TestClient, tenant: Tenant, data: bytes, content_type: str, filename: str, field: str
) -> None:
    response = _upload(client, tenant, data, content_type, filename)

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_forward_attaches_the_cv_when_asked_and_an_anonymized_one_never_does(
    client: TestClient,
    db: Database,
    tenant: Tenant,
    storage: LocalDirectoryStorage,
    renderer: Renderer,
) -> None:
    application_id = _register(db, tenant, _upload(client, tenant).json()["id"])
    for anonymize in (False, True):
        body = {
            "type": "forward_cv",
            "application_id": str(application_id),
            "to": ["panel@example.org"],
            "anonymize": anonymize,
        }
        assert run(db, tenant.organisation_id, body).status == "succeeded"
    render_due_documents(db, storage, renderer)  # the anonymized forward's profile

    sink = deliver_due_mail(db, documents=storage)

    plain, anonymized = (parsed(raw) for raw in sink.received)
    [cv] = list(plain.iter_attachments())
    assert (cv.get_filename(), cv.get_content()) == ("cv-canary.pdf", CV)
    [profile] = list(anonymized.iter_attachments())
    assert profile.get_content_type() == "application/pdf"
    assert b"CV-CANARY" not in sink.received[1] and b"Canary" not in sink.received[1]


def test_purging_the_last_application_erases_the_cv_and_its_file(
    client: TestClient,
    db: Database,
    tenant: Tenant,
    storage: LocalDirectoryStorage,
    renderer: Renderer,
) -> None:
    uploaded = _upload(client, tenant).json()
    application_id = _register(db, tenant, uploaded["id"])
    for command in ("delete_application", "purge_application"):
        body = {"type": command, "application_id": str(application_id)}
        assert run(db, tenant.organisation_id, body).status == "succeeded"

    render_due_documents(db, storage, renderer)  # carries out the erase job

    assert client.get(uploaded["download"], headers=tenant.headers).status_code == 404
    assert list(storage.root.rglob("*.pdf")) == []


def test_purging_erases_the_replayable_response_of_the_cv_upload(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given an application registered with an uploaded CV, whose upload's response is kept
    # for its idempotency key (file name, size, SHA-256)
    uploaded = _upload(client, tenant).json()
    application_id = _register(db, tenant, uploaded["id"])

    def kept() -> list[str]:
        with db.transaction() as session:
            return [json.dumps(r.response_body) for r in session.scalars(select(IdempotencyRecord))]

    assert [r for r in kept() if "cv-canary" in r]
    # When the application is deleted and purged
    for command in ("delete_application", "purge_application"):
        body = {"type": command, "application_id": str(application_id)}
        assert run(db, tenant.organisation_id, body).status == "succeeded"
    # Then no idempotency record names the CV's name, id or SHA-256 any more
    assert not [r for r in kept() if "cv-canary" in r or uploaded["id"] in r]
    assert not [r for r in kept() if uploaded["sha256"] in r]


def test_a_docx_must_be_a_word_document_not_just_any_zip(
    client: TestClient, tenant: Tenant
) -> None:
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    word, other = BytesIO(), BytesIO()
    with zipfile.ZipFile(word, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("payload.exe", "MZ")

    accepted = _upload(client, tenant, word.getvalue(), docx, "cv.docx")
    refused = _upload(client, tenant, other.getvalue(), docx, "cv.docx")

    assert accepted.status_code == 201 and accepted.json()["content_type"] == docx
    assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "not_that_type"


def test_a_body_larger_than_the_endpoint_takes_is_refused_before_it_is_read(
    client: TestClient, tenant: Tenant
) -> None:
    huge = _upload(client, tenant, CV + b"\\0" * (20 * 1024 * 1024))
    ratings = client.post("/review/" + "x" * 43, content=b"a" * (300 * 1024))

    def streamed() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(12):
            yield b"\0" * (1024 * 1024)

    chunked = client.post(
        "/v1/documents",
        content=streamed(),
        headers={
            **tenant.headers,
            "Idempotency-Key": new_key(),
            "Content-Type": "application/pdf",
            "Content-Disposition": "attachment; filename=cv.pdf",
        },
    )

    assert (huge.status_code, ratings.status_code, chunked.status_code) == (413, 413, 413)
    assert huge.json()["title"] == chunked.json()["title"] == "Request body too large"


def test_the_uploaded_cv_listed_with_the_application_can_be_attached_to_an_email(
    client: TestClient, db: Database, tenant: Tenant, storage: LocalDirectoryStorage
) -> None:
    # Given an application registered with an uploaded CV, listed among its documents
    application_id = _register(db, tenant, _upload(client, tenant).json()["id"])
    listed = client.get(f"/v1/applications/{application_id}/documents", headers=tenant.headers)
    [cv_id] = [d["id"] for d in listed.json()["items"]]

    # When the recruiter sends an email with that document attached
    record = run(
        db,
        tenant.organisation_id,
        {
            "type": "send_email",
            "application_id": str(application_id),
            "subject": "Your CV",
            "text": "Attached, as you asked.",
            "attachments": [cv_id],
        },
    )
    sink = deliver_due_mail(db, documents=storage)

    # Then the command succeeds and the email carries the CV
    assert record.status == "succeeded", record.outcome_message
    [attached] = list(parsed(sink.received[0]).iter_attachments())
    assert (attached.get_filename(), attached.get_content()) == ("cv-canary.pdf", CV)
