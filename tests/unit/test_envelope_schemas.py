"""The published JSON Schemas of the AMQP envelopes agree with the ingress: an envelope a
publisher validates against them is one werving accepts, and the other way round."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from services.command_api.ingress import accept_envelope
from services.command_api.refusals import EnvelopeRefused
from shared.contracts import json_schemas
from shared.db.database import Database
from tests.conftest import Tenant

SCHEMAS = json_schemas()
VALIDATORS = {
    name: Draft202012Validator(
        SCHEMAS[f"{name}.schema.json"], format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    for name in ("CommandEnvelope", "BulkCommandEnvelope")
}


def _ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def _withdraw(**fields: Any) -> dict[str, Any]:
    command = {"type": "withdraw_application", "application_id": str(uuid.uuid4()), **fields}
    return {"idempotency_key": f"k-{uuid.uuid4()}", "command": command}


def _bulk(command: dict[str, Any], ids: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    envelope = {
        "idempotency_key": f"b-{uuid.uuid4()}",
        "application_ids": _ids(2) if ids is None else ids,
    }
    return {**envelope, "command": command, **fields}


SAVE = {"type": "save_application", "note": "Talent pool"}
ONE_ID = _ids(1)
CORPUS: list[tuple[str, dict[str, Any], bool]] = [
    ("a withdrawal", _withdraw(reason="Took another job"), True),
    ("a quoted key", {**_withdraw(), "idempotency_key": '"hr-7781"'}, True),
    ("a key of 255 characters", {**_withdraw(), "idempotency_key": "k" * 255}, True),
    ("a key of 256 characters", {**_withdraw(), "idempotency_key": "k" * 256}, False),
    ("an empty key", {**_withdraw(), "idempotency_key": ""}, False),
    ("an empty quoted key", {**_withdraw(), "idempotency_key": '""'}, False),
    ("a key with a space", {**_withdraw(), "idempotency_key": "hr 7781"}, False),
    ("a key with a line break at the end", {**_withdraw(), "idempotency_key": "hr\n"}, False),
    ("a key with an accent", {**_withdraw(), "idempotency_key": "hré"}, False),
    ("a key that is a number", {**_withdraw(), "idempotency_key": 7781}, False),
    ("no key", {"command": _withdraw()["command"]}, False),
    ("an unknown top-level field", {**_withdraw(), "priority": "high"}, False),
    ("schema version 2", {**_withdraw(), "schema_version": 2}, False),
    ("an unknown command type", {**_withdraw(), "command": {"type": "promote"}}, False),
    ("an unknown command field", _withdraw(urgent=True), False),
    (
        "a command without its application",
        {**_withdraw(), "command": {"type": "save_application"}},
        False,
    ),
    ("an application id that is no UUID", _withdraw(application_id="app-1"), False),
    ("a bulk save", _bulk(SAVE), True),
    (
        "a bulk rejection",
        _bulk(
            {
                "type": "reject_application",
                "rejection_type": "by_company",
                "reason_id": str(uuid.uuid4()),
            }
        ),
        True,
    ),
    ("a bulk of 1,000", _bulk(SAVE, _ids(1_000)), True),
    ("a bulk of 1,001", _bulk(SAVE, _ids(1_001)), False),
    ("a bulk of none", _bulk(SAVE, []), False),
    ("a bulk naming one application twice", _bulk(SAVE, ONE_ID * 2), False),
    ("a bulk id that is no UUID", _bulk(SAVE, ["app-1"]), False),
    (
        "a bulk command with its own application",
        _bulk({**SAVE, "application_id": ONE_ID[0]}),
        False,
    ),
    ("a bulk command with an unknown field", _bulk({**SAVE, "urgent": True}), False),
    (
        "a bulk registration",
        _bulk({"type": "register_application", "vacancy_id": str(uuid.uuid4())}),
        False,
    ),
    (
        "a bulk panel review",
        _bulk({"type": "close_panel_review", "review_id": str(uuid.uuid4())}),
        False,
    ),
    ("a bulk command of no type", _bulk({"note": "x"}), False),
    ("a bulk with an unknown field", _bulk(SAVE, priority="high"), False),
    ("a bulk with a key of 256 characters", {**_bulk(SAVE), "idempotency_key": "k" * 256}, False),
]


def _schema_accepts(envelope: dict[str, Any]) -> bool:
    """As a publisher would: the bulk schema for a body with application_ids."""
    name = "BulkCommandEnvelope" if "application_ids" in envelope else "CommandEnvelope"
    return bool(VALIDATORS[name].is_valid(envelope))


def _ingress_accepts(db: Database, tenant: Tenant, envelope: dict[str, Any]) -> bool:
    try:
        with db.transaction() as session:
            accept_envelope(
                session,
                organisation_id=tenant.organisation_id,
                body=json.dumps(envelope),
                source="amqp",
                retention=timedelta(hours=48),
            )
    except EnvelopeRefused:
        return False
    return True


@pytest.mark.parametrize(("envelope", "accepted"), [pytest.param(e, a, id=i) for i, e, a in CORPUS])
def test_the_published_schema_and_the_ingress_agree_on_an_envelope(
    db: Database, tenant: Tenant, envelope: dict[str, Any], accepted: bool
) -> None:
    # Given an envelope a publisher checks against the published JSON Schema
    by_schema = _schema_accepts(envelope)
    # When the ingress receives it
    by_ingress = _ingress_accepts(db, tenant, envelope)
    # Then both say the same, and what the contract means
    assert (by_schema, by_ingress) == (accepted, accepted)


def test_the_bulk_schema_spells_out_each_command_without_its_application() -> None:
    # Given the bulk envelope's schema
    command = SCHEMAS["BulkCommandEnvelope.schema.json"]["properties"]["command"]
    defs = SCHEMAS["BulkCommandEnvelope.schema.json"]["$defs"]
    variants = [defs[ref["$ref"].rsplit("/", 1)[-1]] for ref in command["oneOf"]]
    # Then every command it allows is closed and names no application of its own
    assert variants and all(v["additionalProperties"] is False for v in variants)
    assert not any("application_id" in v["properties"] for v in variants)
    assert "register_application" not in command["discriminator"]["mapping"]
