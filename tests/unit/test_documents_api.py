"""The documents API: an application's documents, one download, letters printed as one
PDF, and the logo on the letterhead. Everything is scoped to the caller's organisation."""

from __future__ import annotations

import uuid
from io import BytesIO

import httpx
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from services.command_api.api_keys import Scope
from services.document_worker.pdf import Renderer
from shared.db.database import Database
from shared.documents.storage import LocalDirectoryStorage
from shared.statuses import ApplicationStatus
from tests.conftest import Tenant, make_tenant
from tests.documents import image_count, offered_application, png, render_due_documents
from tests.factories import new_key
from tests.seeds import seed_application, seed_reference
from tests.workflow import run

CONTRACT = {
    "type": "send_employment_contract",
    "job_title": "Nurse",
    "salary": {"amount": "3500", "currency": "EUR", "period": "month"},
    "hours_per_week": "36",
    "start_date": "2027-03-01",
    "place_of_work": "Utrecht",
}


def _letter(db: Database, tenant: Tenant, application_id: uuid.UUID) -> None:
    body = {
        "type": "send_letter",
        "application_id": str(application_id),
        "letter": "received",
        "channel": "print",
    }
    assert run(db, tenant.organisation_id, body).status == "succeeded"


def _put_logo(
    client: TestClient, tenant: Tenant, data: bytes, content_type: str = "image/png"
) -> httpx.Response:
    headers = {**tenant.headers, "Idempotency-Key": new_key(), "Content-Type": content_type}
    response: httpx.Response = client.put("/v1/assets/logo", content=data, headers=headers)
    return response


def test_an_applications_contract_is_listed_and_downloaded_as_stored(
    client: TestClient,
    db: Database,
    tenant: Tenant,
    storage: LocalDirectoryStorage,
    renderer: Renderer,
) -> None:
    application_id = offered_application(db, tenant)
    run(db, tenant.organisation_id, {**CONTRACT, "application_id": str(application_id)})
    [document] = render_due_documents(db, storage, renderer)

    listed = client.get(f"/v1/applications/{application_id}/documents", headers=tenant.headers)
    downloaded = client.get(f"/v1/documents/{document.id}", headers=tenant.headers)

    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["kind"] == "contract" and item["version"] == 1
    assert item["sha256"] == document.sha256
    assert item["download"] == f"/v1/documents/{document.id}"
    assert downloaded.status_code == 200
    assert downloaded.content == storage.get(document.storage_key)
    assert downloaded.headers["content-type"] == "application/pdf"
    assert downloaded.headers["etag"] == f'"{document.sha256}"'
    assert 'filename="arbeidsovereenkomst-v1.pdf"' in downloaded.headers["content-disposition"]


def test_a_document_whose_file_is_gone_answers_410_not_a_server_error(
    client: TestClient,
    db: Database,
    tenant: Tenant,
    storage: LocalDirectoryStorage,
    renderer: Renderer,
) -> None:
    # Given a stored contract whose file was removed from the store behind werving's back
    application_id = offered_application(db, tenant)
    run(db, tenant.organisation_id, {**CONTRACT, "application_id": str(application_id)})
    [document] = render_due_documents(db, storage, renderer)
    storage.delete(document.storage_key)
    # When it is downloaded
    downloaded = client.get(f"/v1/documents/{document.id}", headers=tenant.headers)
    # Then the client is told it is gone, as a problem
    assert downloaded.status_code == 410
    assert downloaded.headers["content-type"] == "application/problem+json"
    assert "no longer stored" in downloaded.json()["detail"]


def test_another_organisation_gets_404_for_the_documents_and_the_download(
    client: TestClient,
    db: Database,
    tenant: Tenant,
    storage: LocalDirectoryStorage,
    renderer: Renderer,
) -> None:
    application_id = offered_application(db, tenant)
    run(db, tenant.organisation_id, {**CONTRACT, "application_id": str(application_id)})
    [document] = render_due_documents(db, storage, renderer)
    other = make_tenant(db, name="Other")

    listed = client.get(f"/v1/applications/{application_id}/documents", headers=other.headers)
    downloaded = client.get(f"/v1/documents/{document.id}", headers=other.headers)
    printed = client.post(
        "/v1/documents/print", json={"document_ids": [str(document.id)]}, headers=other.headers
    )

    assert (listed.status_code, downloaded.status_code) == (404, 404)
    assert printed.status_code == 422
    assert printed.json()["errors"][0]["field"] == "document_ids.0"


def test_a_key_without_the_documents_scope_is_refused(client: TestClient, db: Database) -> None:
    reader = make_tenant(db, scopes=[Scope.APPLICATIONS_READ])

    response = client.get(f"/v1/documents/{uuid.uuid4()}", headers=reader.headers)

    assert response.status_code == 403


def test_letters_for_many_applications_print_as_one_pdf_in_the_order_given(
    client: TestClient,
    db: Database,
    tenant: Tenant,
    storage: LocalDirectoryStorage,
    renderer: Renderer,
) -> None:
    ref = seed_reference(db, tenant.organisation_id)
    names = ["Ann de Vries", "Bram Jansen", "Chantal Smit"]
    for name in names:
        application_id = seed_application(
            db, tenant.organisation_id, ref.vacancy_id, ApplicationStatus.RECEIVED, name=name
        )
        _letter(db, tenant, application_id)
    letters = render_due_documents(db, storage, renderer)
    order = [letters[2].id, letters[0].id, letters[1].id]

    response = client.post(
        "/v1/documents/print",
        json={"document_ids": [str(i) for i in order]},
        headers=tenant.headers,
    )

    assert response.status_code == 200
    pages = PdfReader(BytesIO(response.content)).pages
    assert len(pages) == sum(letter.pages or 0 for letter in letters) == 3
    name_of = {letter.id: name for letter, name in zip(letters, names, strict=True)}
    printed = [page.extract_text() or "" for page in pages]
    assert all(name_of[i] in text for i, text in zip(order, printed, strict=True))


def test_printing_refuses_an_empty_batch_and_an_unknown_document(
    client: TestClient, tenant: Tenant
) -> None:
    empty = client.post("/v1/documents/print", json={"document_ids": []}, headers=tenant.headers)
    unknown = client.post(
        "/v1/documents/print", json={"document_ids": [str(uuid.uuid4())]}, headers=tenant.headers
    )

    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "document_ids"
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["code"] == "not_found"


def test_an_uploaded_logo_appears_on_the_letterhead_of_later_documents(
    client: TestClient,
    db: Database,
    tenant: Tenant,
    storage: LocalDirectoryStorage,
    renderer: Renderer,
) -> None:
    logo = png(120, 40)
    application_id = offered_application(db, tenant)
    _letter(db, tenant, application_id)
    [before] = render_due_documents(db, storage, renderer)

    created = _put_logo(client, tenant, logo)
    replaced = _put_logo(client, tenant, logo)
    fetched = client.get("/v1/assets/logo", headers=tenant.headers)
    _letter(db, tenant, application_id)
    after = render_due_documents(db, storage, renderer)[-1]

    assert (created.status_code, replaced.status_code) == (201, 200)
    assert fetched.content == logo and fetched.headers["content-type"] == "image/png"
    assert image_count(storage.get(before.storage_key)) == 0
    assert image_count(storage.get(after.storage_key)) == 1


@pytest.mark.parametrize(
    ("content_type", "data", "field", "code"),
    [
        ("image/gif", b"GIF89a" + b"\0" * 10, "content-type", "unsupported_type"),
        ("image/png", b"<svg onload=alert(1)>", "body", "not_an_image"),
        ("image/jpeg", png(), "body", "not_an_image"),
        ("image/png", b"", "body", "missing"),
        ("image/png", png() + b"\0" * (512 * 1024), "body", "too_large"),
    ],
)
def test_a_logo_that_is_not_a_small_png_or_jpeg_is_refused_and_nothing_is_stored(
    client: TestClient, tenant: Tenant, content_type: str, data: bytes, field: str, code: str
) -> None:
    response = _put_logo(client, tenant, data, content_type)

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == (field, code)
    assert client.get("/v1/assets/logo", headers=tenant.headers).status_code == 404
