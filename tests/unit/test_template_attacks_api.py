"""The attack catalogue against the API: previews and saves answer 422 naming the part.

A preview renders with the purpose's sample values, so each attack is sent as it is (not
hidden behind the sample name): the same limits that stop it in mail_worker refuse it
here, in the API's own process, with ``application/problem+json``. One API serves the
whole catalogue, as it would serve one organisation after another.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.factories import new_key
from tests.template_attacks import ATTACKS

EMAIL = "/v1/email-templates/receipt/nl"
DOCUMENT = "/v1/document-templates/letter_received/nl"
PLAIN = {
    "subject": "Thank you, {{ applicant_first_name }}",
    "text": "Dear {{ applicant_name }},\n",
    "html": "<p>Dear {{ applicant_name }}</p>",
}


def _wrong(response: httpx.Response, part: str) -> str | None:
    """What is wrong with ``response`` as a refusal of ``part``; None when it is one."""
    if response.status_code != 422:
        return f"answered {response.status_code}"
    problem: dict[str, Any] = response.json()
    if response.headers["content-type"] != "application/problem+json":
        return f"answered {response.headers['content-type']}"
    if not problem["detail"].startswith(f"{part}: "):
        return f"detail {problem['detail']!r}"
    if [(e["field"], e["code"]) for e in problem["errors"]] != [(part, "invalid_template")]:
        return f"errors {problem['errors']!r}"
    return None


@pytest.mark.parametrize("part", ["subject", "text", "html"])
def test_an_email_preview_of_every_attack_answers_422_naming_the_part(
    client: TestClient, tenant: Tenant, part: str
) -> None:
    wrong = {}
    for attack in ATTACKS:
        # Given an email template set with the attack in one part
        body = {**PLAIN, part: attack.template}

        # When it is previewed
        started = time.perf_counter()
        response = client.post(f"{EMAIL}/preview", json=body, headers=tenant.headers)

        # Then the API refuses it, naming the part
        if problem := _wrong(response, part):
            wrong[attack.id] = problem
        print(  # noqa: T201 - a figure to read with -s, never asserted
            f"{attack.id} in {part}: {response.status_code} in"
            f" {(time.perf_counter() - started) * 1000:.1f} ms"
        )
    assert wrong == {}
    # And it is still up for the next request
    assert client.post(f"{EMAIL}/preview", json=PLAIN, headers=tenant.headers).status_code == 200


def test_a_document_preview_of_every_attack_answers_422_naming_the_body(
    client: TestClient, tenant: Tenant
) -> None:
    wrong = {}
    for attack in ATTACKS:
        response = client.post(
            f"{DOCUMENT}/preview", json={"html": attack.template}, headers=tenant.headers
        )
        if problem := _wrong(response, "html"):
            wrong[attack.id] = problem
    assert wrong == {}


def test_saving_an_attack_of_a_shape_never_allowed_is_refused_wherever_it_hides(
    client: TestClient, tenant: Tenant
) -> None:
    wrong = {}
    for attack in (a for a in ATTACKS if a.stage == "save"):
        # Given an attack hidden where the sample values do not go
        body = {**PLAIN, "html": attack.hidden}

        # When it is saved, then it is refused all the same, saying why
        headers = {**tenant.headers, "Idempotency-Key": new_key()}
        response = client.put(EMAIL, json=body, headers=headers)
        if problem := _wrong(response, "html"):
            wrong[attack.id] = problem
        elif attack.message not in response.json()["detail"]:
            wrong[attack.id] = response.json()["detail"]
    assert wrong == {}
