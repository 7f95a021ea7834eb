"""An organisation's own document bodies: checked when saved, used by document_worker,
and a body that still explodes at render time fails its job with the reason while the
next job renders as usual."""

from __future__ import annotations

from io import BytesIO

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import delete, select

from services.document_worker.pdf import Renderer
from shared.db.database import Database
from shared.db.models import Document, DocumentTemplate
from shared.documents.storage import LocalDirectoryStorage
from shared.errors import PermanentError
from tests.conftest import Tenant
from tests.documents import offered_application, pdf_text, render_due_documents
from tests.factories import new_key
from tests.workflow import run

OWN_CONTRACT = """
<h1>Contract van {{ organisation_name }}</h1>
<p>{{ applicant_name }} wordt {{ job_title }} voor {{ hours_per_week }} uur per week.</p>
<p>Salaris: {{ salary }}. Eerste werkdag: {{ start_date }}.</p>
"""
CONTRACT = {
    "type": "send_employment_contract",
    "job_title": "Kok",
    "salary": {"amount": "2900", "currency": "EUR", "period": "month"},
    "hours_per_week": "38",
    "start_date": "2027-02-01",
    "place_of_work": "Zwolle",
}


def test_an_organisations_contract_body_is_saved_and_used_for_its_next_contract(
    client: TestClient,
    db: Database,
    tenant: Tenant,
    storage: LocalDirectoryStorage,
    renderer: Renderer,
) -> None:
    created = client.put(
        "/v1/document-templates/contract/nl",
        json={"html": OWN_CONTRACT},
        headers={**tenant.headers, "Idempotency-Key": new_key()},
    )
    application_id = offered_application(db, tenant)
    run(db, tenant.organisation_id, {**CONTRACT, "application_id": str(application_id)})

    [document] = render_due_documents(db, storage, renderer)

    assert created.status_code == 201 and created.json()["version"] == 1
    shown = client.get("/v1/document-templates/contract/nl", headers=tenant.headers).json()
    assert (shown["source"], shown["html"]) == ("organisation", OWN_CONTRACT)
    text = pdf_text(storage.get(document.storage_key))
    assert "Ann de Vries wordt Kok voor 38 uur per week." in text
    assert "€ 2.900,00 per maand" in text and "1 februari 2027" in text
    assert "Pagina 1 van 1" in text  # the page frame stays werving's
    assert document.template_version == "organisation v1"


def test_without_its_own_body_the_builtin_is_shown_and_deleting_goes_back_to_it(
    client: TestClient, tenant: Tenant
) -> None:
    builtin = client.get("/v1/document-templates/letter_rejected/en", headers=tenant.headers)
    client.put(
        "/v1/document-templates/letter_rejected/en",
        json={"html": "<p>No, {{ applicant_name }}.</p>"},
        headers={**tenant.headers, "Idempotency-Key": new_key()},
    )
    deleted = client.delete(
        "/v1/document-templates/letter_rejected/en",
        headers={**tenant.headers, "Idempotency-Key": new_key()},
    )

    assert builtin.json()["source"] == "builtin" and "reason" in builtin.json()["variables"]
    assert deleted.status_code == 200
    assert deleted.json() == builtin.json()


@pytest.mark.parametrize(
    ("html", "message"),
    [
        ("<p>{{ applicant_email }}</p>", "unknown variable(s): applicant_email"),
        ("<p>\n{% if %}</p>", "line 2"),
        ("{% include '/etc/passwd' %}", "'include' is not allowed"),
        ("{{ ''.__class__.__mro__ }}", "not allowed"),
        ("{{ 'a' * 100000000 }}", "numbers above"),
        (
            "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}",
            "loops run more than 10000 times",
        ),
    ],
)
def test_a_body_the_sandbox_refuses_is_not_saved(
    client: TestClient, tenant: Tenant, html: str, message: str
) -> None:
    response = client.put(
        "/v1/document-templates/contract/nl",
        json={"html": html},
        headers={**tenant.headers, "Idempotency-Key": new_key()},
    )

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "html" and message in error["message"]
    shown = client.get("/v1/document-templates/contract/nl", headers=tenant.headers).json()
    assert shown["source"] == "builtin"


def test_an_anonymized_profile_body_cannot_name_the_applicant(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.put(
        "/v1/document-templates/profile/en",
        json={"html": "<p>{{ applicant_name }}</p>"},
        headers={**tenant.headers, "Idempotency-Key": new_key()},
    )

    assert response.status_code == 422
    assert "applicant_name" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        # Loops for ever inside the template: the sandbox's render budget stops it.
        (
            "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}",
            "template_error: contract/nl organisation v1: line 1: loops run more than 10000 times",
        ),
        # Renders quickly but lays out to more pages than a document may have.
        (
            "{% for i in range(4000) %}<p>{{ applicant_name }}</p>{% endfor %}",
            "more than the limit of 50",
        ),
    ],
)
def test_a_body_that_explodes_at_render_time_fails_its_job_and_the_next_job_renders(
    db: Database,
    tenant: Tenant,
    storage: LocalDirectoryStorage,
    renderer: Renderer,
    body: str,
    reason: str,
) -> None:
    # Given a body stored without the API's checks (as one saved before a limit changed)
    with db.transaction() as session:
        session.add(
            DocumentTemplate(
                organisation_id=tenant.organisation_id, purpose="contract", locale="nl", html=body
            )
        )
    application_id = offered_application(db, tenant)
    run(db, tenant.organisation_id, {**CONTRACT, "application_id": str(application_id)})

    with pytest.raises(PermanentError) as failure:
        render_due_documents(db, storage, renderer)

    assert reason in str(failure.value)
    with db.transaction() as session:
        assert session.scalars(select(Document)).all() == []
        session.execute(delete(DocumentTemplate))
    run(db, tenant.organisation_id, {**CONTRACT, "application_id": str(application_id)})
    [document] = render_due_documents(db, storage, renderer)
    assert "Arbeidsovereenkomst" in pdf_text(storage.get(document.storage_key))


def test_a_body_cannot_restyle_the_page_hide_its_numbers_or_load_anything(
    db: Database, tenant: Tenant, storage: LocalDirectoryStorage, renderer: Renderer
) -> None:
    # Given a body that tries to change the page frame and load files
    hostile = (
        "<style>@page { size: A5 landscape; @bottom-right { content: none } }"
        " .letterhead { display: none }</style>"
        '<link rel="stylesheet" href="file:///etc/passwd"><img src="file:///etc/hostname">'
        '<p style="position: fixed; top: 0">{{ applicant_name }} {{ job_title }}</p>'
    )
    with db.transaction() as session:
        session.add(
            DocumentTemplate(
                organisation_id=tenant.organisation_id,
                purpose="contract",
                locale="nl",
                html=hostile,
            )
        )
    application_id = offered_application(db, tenant)
    run(db, tenant.organisation_id, {**CONTRACT, "application_id": str(application_id)})

    [document] = render_due_documents(db, storage, renderer)

    reader = PdfReader(BytesIO(storage.get(document.storage_key)))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4, portrait
    text = pdf_text(storage.get(document.storage_key))
    assert "Pagina 1 van 1" in text and "Acme" in text  # page numbers and letterhead
    assert "Ann de Vries Kok" in text  # the body's text stays


def test_a_body_is_previewed_with_sample_values_before_and_after_saving(
    client: TestClient, tenant: Tenant
) -> None:
    path = "/v1/document-templates/contract/nl"
    builtin = client.post(f"{path}/preview", headers=tenant.headers)
    draft = client.post(f"{path}/preview", json={"html": OWN_CONTRACT}, headers=tenant.headers)
    broken = client.post(
        f"{path}/preview", json={"html": "{{ salary_in_bitcoin }}"}, headers=tenant.headers
    )
    client.put(
        path, json={"html": OWN_CONTRACT}, headers={**tenant.headers, "Idempotency-Key": new_key()}
    )
    saved = client.post(f"{path}/preview", headers=tenant.headers)

    assert builtin.status_code == 200 and "Sanne de Vries" in builtin.json()["html"]
    assert draft.status_code == 200
    assert draft.json()["html"].startswith("\n<h1>Contract van Zorggroep Noord</h1>")
    assert "{{" not in draft.json()["html"]
    assert broken.status_code == 422
    assert [e["field"] for e in broken.json()["errors"]] == ["html"]
    assert saved.json() == draft.json()
    assert builtin.json() != draft.json()
