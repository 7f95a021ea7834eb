"""``/v1/email-templates``: an organisation's own emails, checked when saved, previewed unsent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.command_api.api_keys import Scope
from shared.db.database import Database
from shared.db.models import EmailTemplate, OutboundEmail, OutboxMessage, ScheduledJob
from shared.emails.builtin import builtin_template_set
from shared.emails.locales import LOCALES
from shared.emails.purposes import PURPOSES, VARIABLES
from tests.conftest import Tenant, make_tenant
from tests.factories import new_key

RECEIPT = "/v1/email-templates/receipt/nl"

GOOD = {
    "subject": "Bedankt, {{ applicant_first_name }}",
    "text": "Beste {{ applicant_name }},\n\nWe lezen je brief voor {{ vacancy_title }}.\n",
    "html": (
        "<html><head><style>p { color: #123456; }</style></head>"
        "<body><p>Beste {{ applicant_name }}</p></body></html>"
    ),
}

# Templates that try to escape the sandbox, read files or exhaust the worker.
HOSTILE = [
    "{% include '/etc/passwd' %}",
    "{% extends '/etc/passwd' %}",
    "{% import '/etc/passwd' as secrets %}",
    "{% from '/etc/passwd' import root %}",
    "{{ ''.__class__.__mro__ }}",
    "{{ applicant_name.__class__.__mro__[1].__subclasses__() }}",
    "{{ '{0.__class__}'.format(applicant_name) }}",
    "{{ lipsum.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ 9 ** 9 }}",
    "{{ 'x' * 100000 * 100000 }}",
    "{{ range(1000000) | list }}",
]


def _put(
    client: TestClient, tenant: Tenant, body: Any, path: str = RECEIPT, *, key: str | None = None
) -> httpx.Response:
    headers = {**tenant.headers, "Idempotency-Key": key or new_key()}
    response: httpx.Response = client.put(path, json=body, headers=headers)
    return response


def _delete(client: TestClient, tenant: Tenant, path: str = RECEIPT) -> httpx.Response:
    headers = {**tenant.headers, "Idempotency-Key": new_key()}
    response: httpx.Response = client.delete(path, headers=headers)
    return response


def _preview(
    client: TestClient, tenant: Tenant, body: Any = None, path: str = RECEIPT
) -> httpx.Response:
    response: httpx.Response = client.post(f"{path}/preview", json=body, headers=tenant.headers)
    return response


def _refusal(response: httpx.Response) -> dict[str, Any]:
    """The one field error of a 422 problem."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert isinstance(error, dict)
    return error


def _count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# -- reading ------------------------------------------------------------------------------


def test_without_a_template_of_its_own_an_organisation_reads_the_built_in_to_start_from(
    client: TestClient, tenant: Tenant
) -> None:
    # When a new organisation lists its templates and reads one
    listing = client.get("/v1/email-templates", headers=tenant.headers)
    template = client.get(RECEIPT, headers=tenant.headers)

    # Then it has none of its own, and learns every purpose and locale there is
    assert listing.status_code == 200, listing.text
    assert listing.json() == {"items": [], "purposes": list(PURPOSES), "locales": list(LOCALES)}
    # And the one it reads is the built-in source, with the variables it may use
    assert template.status_code == 200, template.text
    builtin = builtin_template_set("receipt", "nl")
    assert template.json() == {
        "purpose": "receipt",
        "locale": "nl",
        "source": "builtin",
        "version": None,
        "updated_at": None,
        "variables": sorted(VARIABLES["receipt"]),
        "subject": builtin.subject,
        "text": builtin.text,
        "html": builtin.html,
    }
    assert "{{ vacancy_title }}" in template.json()["subject"]


# -- saving -------------------------------------------------------------------------------


def test_saving_creates_the_template_then_every_save_is_the_next_version(
    client: TestClient, tenant: Tenant
) -> None:
    # When the organisation saves its receipt, then saves a new wording
    created = _put(client, tenant, GOOD)
    updated = _put(client, tenant, {**GOOD, "subject": "Ontvangen: {{ vacancy_title }}"})

    # Then the first save creates version 1, the second answers 200 with version 2
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == RECEIPT
    assert (created.json()["source"], created.json()["version"]) == ("organisation", 1)
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2
    # And reading it back gives the latest wording, listed with its version
    template = client.get(RECEIPT, headers=tenant.headers).json()
    assert template["subject"] == "Ontvangen: {{ vacancy_title }}"
    assert (template["text"], template["html"]) == (GOOD["text"], GOOD["html"])
    assert (template["source"], template["version"]) == ("organisation", 2)
    [item] = client.get("/v1/email-templates", headers=tenant.headers).json()["items"]
    assert (item["purpose"], item["locale"], item["version"]) == ("receipt", "nl", 2)
    assert item["updated_at"] == template["updated_at"]


def test_a_save_retried_with_its_idempotency_key_is_stored_once(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given a save that went through
    key = new_key()
    first = _put(client, tenant, GOOD, key=key)

    # When the client retries it with the same key, then uses the key for another body
    again = _put(client, tenant, GOOD, key=key)
    other = _put(client, tenant, {**GOOD, "text": "Anders"}, key=key)

    # Then the retry replays the first answer and the reuse is refused
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 422
    # And there is one template, still at version 1
    with db.transaction() as session:
        assert session.scalars(select(EmailTemplate.version)).all() == [1]


def test_saving_or_deleting_requires_an_idempotency_key(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # When the organisation writes without an Idempotency-Key
    saved = client.put(RECEIPT, json=GOOD, headers=tenant.headers)
    deleted = client.delete(RECEIPT, headers=tenant.headers)

    # Then both are refused naming the header, and nothing is stored
    for response in (saved, deleted):
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert _count(db, EmailTemplate) == 0


def test_each_locale_of_a_purpose_is_its_own_template(client: TestClient, tenant: Tenant) -> None:
    # When the organisation saves only the English receipt
    assert _put(client, tenant, GOOD, "/v1/email-templates/receipt/en").status_code == 201

    # Then the Dutch receipt is still the built-in
    assert client.get(RECEIPT, headers=tenant.headers).json()["source"] == "builtin"
    english = client.get("/v1/email-templates/receipt/en", headers=tenant.headers).json()
    assert english["source"] == "organisation"


# -- deleting -----------------------------------------------------------------------------


def test_deleting_the_template_goes_back_to_the_built_in(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given an organisation template
    assert _put(client, tenant, GOOD).status_code == 201

    # When it is deleted
    deleted = _delete(client, tenant)

    # Then the answer, and every read after it, is the built-in email
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["source"] == "builtin"
    assert deleted.json()["subject"] == builtin_template_set("receipt", "nl").subject
    assert client.get(RECEIPT, headers=tenant.headers).json()["source"] == "builtin"
    assert client.get("/v1/email-templates", headers=tenant.headers).json()["items"] == []
    assert _count(db, EmailTemplate) == 0
    # And deleting again changes nothing
    assert _delete(client, tenant).status_code == 200


def test_a_template_saved_again_after_a_delete_starts_at_version_1(
    client: TestClient, tenant: Tenant
) -> None:
    # Given a template saved twice, then deleted
    _put(client, tenant, GOOD)
    _put(client, tenant, GOOD)
    _delete(client, tenant)

    # When it is saved again
    saved = _put(client, tenant, GOOD)

    # Then it is a new template
    assert (saved.status_code, saved.json()["version"]) == (201, 1)


# -- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("part", ["subject", "text", "html"])
def test_a_syntax_error_is_refused_naming_the_part_and_its_line(
    client: TestClient, db: Database, tenant: Tenant, part: str
) -> None:
    # Given a part whose second line opens a block it never closes
    broken = {**GOOD, part: "Beste {{ applicant_name }}\n{% if vacancy_title %}"}

    # When it is saved, or previewed
    for response in (_put(client, tenant, broken), _preview(client, tenant, broken)):
        # Then it is refused, the error naming the part, its message the line
        error = _refusal(response)
        assert error["field"] == part
        assert error["code"] == "invalid_template"
        assert error["message"].startswith("line 2: ")
        assert response.json()["detail"].startswith(f"{part}: line 2: ")
    # And nothing is stored
    assert _count(db, EmailTemplate) == 0


@pytest.mark.parametrize("part", ["subject", "text", "html"])
def test_a_variable_the_purpose_does_not_have_is_refused_naming_the_part(
    client: TestClient, db: Database, tenant: Tenant, part: str
) -> None:
    # Given a receipt that asks for a variable no receipt has
    broken = {**GOOD, part: "Hallo {{ applicant_name }}, {{ current_salary }}"}

    # When it is saved
    error = _refusal(_put(client, tenant, broken))

    # Then the error names the part and the variable
    assert error["field"] == part
    assert error["message"] == "unknown variable(s): current_salary"
    assert _count(db, EmailTemplate) == 0


def test_the_anonymized_cv_forward_cannot_name_the_applicant(
    client: TestClient, tenant: Tenant
) -> None:
    # When an organisation writes an anonymized forward that names the applicant
    body = {
        "subject": "Kandidaat {{ reference_code }}",
        "text": "Over {{ applicant_name }}",
        "html": "<p>{{ reference_code }}</p>",
    }
    error = _refusal(_put(client, tenant, body, "/v1/email-templates/cv_forward_anonymized/nl"))

    # Then it is refused: that purpose has no identifying variables
    assert error["field"] == "text"
    assert "applicant_name" in error["message"]


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("part", ["subject", "html"])
def test_a_template_that_tries_to_escape_the_sandbox_is_refused_when_saved_or_previewed(
    client: TestClient, db: Database, tenant: Tenant, hostile: str, part: str
) -> None:
    # Given a part that reads a file, reaches Python internals or exhausts the worker
    body = {**GOOD, part: f"Hallo {{{{ applicant_name }}}} {hostile}"}

    # When it is saved, or previewed
    for response in (_put(client, tenant, body), _preview(client, tenant, body)):
        # Then it is refused naming the part, and nothing of the host leaks into the answer
        error = _refusal(response)
        assert error["field"] == part
        assert "root:" not in response.text
        assert "<class" not in response.text
    # And nothing is stored
    assert _count(db, EmailTemplate) == 0


def test_a_template_larger_than_64_kb_is_refused_naming_the_part(
    client: TestClient, tenant: Tenant
) -> None:
    # Given an HTML part of 80 KB in 40,000 characters
    body = {**GOOD, "html": "<p>" + "é" * 40_000 + "</p>"}

    # When it is saved
    error = _refusal(_put(client, tenant, body))

    # Then the size is what is refused
    assert error["field"] == "html"
    assert "larger than 64 KB" in error["message"]


def test_a_subject_that_renders_more_than_one_line_is_refused(
    client: TestClient, tenant: Tenant
) -> None:
    # Given a subject that writes a line break and a header of its own
    body = {**GOOD, "subject": 'Hallo{{ "\\n" }}Bcc: all@example.org'}

    # When it is saved
    error = _refusal(_put(client, tenant, body))

    # Then it is refused: a subject is one header line
    assert error["field"] == "subject"
    assert "single line" in error["message"]


def test_a_body_missing_a_part_or_with_an_unknown_field_is_refused_naming_it(
    client: TestClient, tenant: Tenant
) -> None:
    # When a save lacks the HTML part, or carries a field that is not a part
    missing = _put(client, tenant, {"subject": "Hoi", "text": "Hoi"})
    unknown = _put(client, tenant, {**GOOD, "from": "ceo@example.org"})

    # Then each is refused naming the field
    assert _refusal(missing)["field"] == "html"
    assert _refusal(unknown)["field"] == "from"


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/v1/email-templates/newsletter/nl", "purpose"),
        ("/v1/email-templates/receipt/de", "locale"),
    ],
)
def test_an_unknown_purpose_or_locale_is_a_422_naming_the_path_parameter(
    client: TestClient, tenant: Tenant, path: str, parameter: str
) -> None:
    # When the organisation reads, saves, deletes or previews an email that does not exist
    responses = [
        client.get(path, headers=tenant.headers),
        _put(client, tenant, GOOD, path),
        _delete(client, tenant, path),
        _preview(client, tenant, None, path),
    ]

    # Then every answer names the path parameter
    for response in responses:
        assert _refusal(response)["field"] == parameter


# -- preview ------------------------------------------------------------------------------


def test_a_preview_renders_the_posted_templates_with_sample_data_and_sends_nothing(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # When the organisation previews a template it has not saved, without an Idempotency-Key
    response = _preview(client, tenant, GOOD)

    # Then it sees the email filled with the purpose's sample values, CSS inlined
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["subject"] == "Bedankt, Sanne"
    assert preview["text"].startswith("Beste Sanne de Vries,\n\nWe lezen je brief voor Verpleeg")
    assert '<p style="color:#123456">Beste Sanne de Vries</p>' in preview["html"]
    # And nothing was saved, queued or sent
    for model in (EmailTemplate, ScheduledJob, OutboxMessage, OutboundEmail):
        assert _count(db, model) == 0, model.__name__


def test_a_preview_without_a_body_shows_the_saved_template_or_else_the_built_in(
    client: TestClient, tenant: Tenant
) -> None:
    # Given no template of its own: the preview is the built-in receipt with sample values
    builtin = _preview(client, tenant).json()
    assert builtin["subject"] == "We hebben je sollicitatie ontvangen: Verpleegkundige acute zorg"

    # When the organisation saves its own receipt
    _put(client, tenant, GOOD)

    # Then the preview shows that one
    assert _preview(client, tenant).json()["subject"] == "Bedankt, Sanne"


# -- organisations and scopes -------------------------------------------------------------


def test_another_organisation_never_sees_or_changes_a_template_it_does_not_own(
    client: TestClient, db: Database, tenant: Tenant
) -> None:
    # Given a receipt of the tenant's own
    _put(client, tenant, GOOD)
    other = make_tenant(db, name="Other")

    # When another organisation reads, lists, previews and deletes the same email
    read = client.get(RECEIPT, headers=other.headers).json()
    listed = client.get("/v1/email-templates", headers=other.headers).json()["items"]
    previewed = _preview(client, other).json()
    deleted = _delete(client, other)

    # Then it only ever sees its own view: the built-in
    assert read["source"] == "builtin"
    assert listed == []
    assert previewed["subject"].startswith("We hebben je sollicitatie ontvangen")
    assert deleted.status_code == 200
    # And the tenant's template is untouched
    mine = client.get(RECEIPT, headers=tenant.headers).json()
    assert (mine["source"], mine["version"], mine["subject"]) == (
        "organisation",
        1,
        GOOD["subject"],
    )


def test_reading_needs_templates_read_and_writing_templates_write(
    client: TestClient, db: Database
) -> None:
    # Given a key that may only read templates, and one that may only write them
    reader = make_tenant(db, scopes=[Scope.TEMPLATES_READ])
    writer = make_tenant(db, scopes=[Scope.TEMPLATES_WRITE], name="Writer")
    nobody = make_tenant(db, scopes=[Scope.COMMANDS_WRITE], name="Nobody")

    # Then the reader reads and previews but cannot save or delete
    assert client.get("/v1/email-templates", headers=reader.headers).status_code == 200
    assert client.get(RECEIPT, headers=reader.headers).status_code == 200
    assert _preview(client, reader).status_code == 200
    assert _put(client, reader, GOOD).status_code == 403
    assert _delete(client, reader).status_code == 403
    # And the writer saves and deletes but cannot read
    assert _put(client, writer, GOOD).status_code == 201
    assert _delete(client, writer).status_code == 200
    assert client.get(RECEIPT, headers=writer.headers).status_code == 403
    # And a key with neither gets a 403 problem naming the scope
    refused = client.get("/v1/email-templates", headers=nobody.headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "templates:read" in refused.json()["detail"]
