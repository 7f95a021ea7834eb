"""Envelopes the ingress refuses reach their publisher: a refused entry under the key
over the API, and a ``command.refused`` event through the outbox (SQLite, no broker)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from services.command_api.ingress import CommandIngress, Verdict
from services.command_api.refusals import delete_expired_refusals
from shared.db.database import Database
from shared.db.models import CommandRefusal, DeadLetter, OutboxMessage
from shared.db.types import utcnow
from shared.messaging.outbox import EVENT
from tests.conftest import Tenant, make_tenant
from tests.factories import open_vacancy, register_body, withdraw_body
from tests.workflow import run

USER = "hr-suite"


def _ingress(db: Database) -> CommandIngress:
    return CommandIngress(db, queue="werving.commands", retention=timedelta(hours=48))


def _publish(db: Database, envelope: dict[str, Any] | bytes, message_id: str = "m-1") -> Verdict:
    body = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
    return _ingress(db).handle(body, USER, message_id).verdict


def _lookup(client: TestClient, tenant: Tenant, key: str) -> list[dict[str, Any]]:
    response = client.get("/v1/commands", params={"idempotency_key": key}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


def _refused_events(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == EVENT, OutboxMessage.destination == "command.refused")
            .order_by(OutboxMessage.created_at)
        ).all()
        return [dict(row.payload, organisation_id_column=str(row.organisation_id)) for row in rows]


def test_an_invalid_envelope_is_found_by_its_key_with_its_code_and_field_errors(
    db: Database, client: TestClient
) -> None:
    # Given an organisation publishing as "hr-suite"
    tenant = make_tenant(db, amqp_user=USER)
    vacancy = open_vacancy(db, tenant.organisation_id)
    bad = register_body(vacancy, applicant={"name": "Ann", "email": "ann-at-example.org"})
    # When it publishes an envelope whose applicant's email is invalid
    assert _publish(db, {"idempotency_key": "k-invalid", "command": bad}) is Verdict.DEAD_LETTERED
    # Then its key lists a refused entry naming the field, not an empty list
    [entry] = _lookup(client, tenant, "k-invalid")
    assert {k: entry[k] for k in ("status", "idempotency_key", "code", "source", "message_id")} == {
        "status": "refused",
        "idempotency_key": "k-invalid",
        "code": "invalid_envelope",
        "source": "amqp",
        "message_id": "m-1",
    }
    assert [(e["field"], e["code"]) for e in entry["errors"]] == [
        ("command.applicant.email", "value_error")
    ]
    assert "@-sign" in entry["errors"][0]["message"]
    assert _lookup(client, tenant, "k-never-published") == []
    # And the refusal points at its dead letter, written in the same transaction
    with db.transaction() as session:
        refusal = session.scalars(select(CommandRefusal)).one()
        letter = session.get(DeadLetter, refusal.dead_letter_id)
        assert letter is not None and "command.applicant.email" in letter.reason
    # And a command.refused event tells the organisation, without the envelope's body
    [event] = _refused_events(db)
    assert event["organisation_id"] == event["organisation_id_column"]
    assert event["organisation_id"] == str(tenant.organisation_id)
    assert (event["refusal_id"], event["idempotency_key"], event["code"]) == (
        entry["refusal_id"],
        "k-invalid",
        "invalid_envelope",
    )
    assert event["errors"] == entry["errors"]
    assert "ann-at-example.org" not in json.dumps(event)


def test_an_unknown_command_type_is_refused_as_such_naming_command_type(
    db: Database, client: TestClient
) -> None:
    tenant = make_tenant(db, amqp_user=USER)
    envelope = {"idempotency_key": "k-type", "command": {"type": "fly_to_the_moon"}}

    assert _publish(db, envelope) is Verdict.DEAD_LETTERED

    [entry] = _lookup(client, tenant, "k-type")
    assert entry["code"] == "unknown_command_type"
    assert entry["errors"] == [
        {
            "field": "command.type",
            "code": "union_tag_invalid",
            "message": "not a command type werving knows",
        }
    ]
    assert [e["code"] for e in _refused_events(db)] == ["unknown_command_type"]


def test_a_key_reused_with_another_body_lists_the_first_command_and_the_refusal(
    db: Database, client: TestClient
) -> None:
    # Given an envelope accepted under "k-reused"
    tenant = make_tenant(db, amqp_user=USER)
    vacancy = open_vacancy(db, tenant.organisation_id)
    first = {"idempotency_key": "k-reused", "command": register_body(vacancy)}
    assert _publish(db, first, "m-first") is Verdict.ACCEPTED
    # When another body comes with the same key, and the first one again
    second = {"idempotency_key": "k-reused", "command": register_body(vacancy)}
    assert _publish(db, second, "m-second") is Verdict.DEAD_LETTERED
    assert _publish(db, first, "m-first-again") is Verdict.ACCEPTED
    # Then the key lists the first command, then the one refusal
    entries = _lookup(client, tenant, "k-reused")
    assert [(e["status"], e.get("code")) for e in entries] == [
        ("accepted", None),
        ("refused", "idempotency_key_reused"),
    ]
    assert entries[1]["message_id"] == "m-second"
    assert entries[1]["errors"] == [
        {
            "field": "idempotency_key",
            "code": "idempotency_key_reused",
            "message": "idempotency_key was already used for a different command",
        }
    ]
    assert [e["idempotency_key"] for e in _refused_events(db)] == ["k-reused"]


def test_an_invalid_bulk_is_one_refusal_under_the_bulks_key(
    db: Database, client: TestClient
) -> None:
    tenant = make_tenant(db, amqp_user=USER)
    applications = [str(uuid.uuid4()), str(uuid.uuid4())]
    # A hire needs fields no bulk gives; a repeated application id breaks the envelope
    hire = {
        "idempotency_key": "k-bulk",
        "application_ids": applications,
        "command": {"type": "hire_applicant"},
    }
    repeated = {
        "idempotency_key": "k-bulk-twice",
        "application_ids": [applications[0], applications[0]],
        "command": {"type": "save_application"},
    }

    assert _publish(db, hire) is Verdict.DEAD_LETTERED
    assert _publish(db, repeated) is Verdict.DEAD_LETTERED

    [refused_hire] = _lookup(client, tenant, "k-bulk")
    [refused_repeat] = _lookup(client, tenant, "k-bulk-twice")
    assert (refused_hire["code"], refused_repeat["code"]) == ("invalid_bulk", "invalid_bulk")
    assert "command.position_id" in {e["field"] for e in refused_hire["errors"]}
    assert "each application may appear once" in refused_repeat["errors"][0]["message"]
    for application in applications:  # nothing was accepted under a derived key
        assert _lookup(client, tenant, f"k-bulk/{application}") == []


def test_a_derived_key_reused_inside_an_accepted_bulk_is_a_refusal_under_that_key(
    db: Database, client: TestClient
) -> None:
    # Given two applications, one of which already had a withdrawal under the derived key
    tenant = make_tenant(db, amqp_user=USER)
    vacancy = open_vacancy(db, tenant.organisation_id)
    taken, free = (
        run(db, tenant.organisation_id, register_body(vacancy)).application_id for _ in range(2)
    )
    earlier = {"idempotency_key": f"k-many/{taken}", "command": withdraw_body(taken)}
    assert _publish(db, earlier) is Verdict.ACCEPTED
    # When a bulk under "k-many" saves both, and is delivered twice
    bulk = {
        "idempotency_key": "k-many",
        "application_ids": [str(taken), str(free)],
        "command": {"type": "save_application"},
    }
    assert _publish(db, bulk) is Verdict.ACCEPTED
    assert _publish(db, bulk) is Verdict.ACCEPTED
    # Then the free one got its command, and the taken key lists its command and one refusal
    assert [e["type"] for e in _lookup(client, tenant, f"k-many/{free}")] == ["save_application"]
    entries = _lookup(client, tenant, f"k-many/{taken}")
    assert [(e["status"], e.get("code")) for e in entries] == [
        ("accepted", None),
        ("refused", "idempotency_key_reused"),
    ]
    assert [e["idempotency_key"] for e in _refused_events(db)] == [f"k-many/{taken}"]
    with db.transaction() as session:  # the bulk was accepted: no dead letter
        assert session.scalars(select(DeadLetter)).all() == []


def test_a_body_without_a_readable_key_is_heard_with_its_message_id_only(db: Database) -> None:
    tenant = make_tenant(db, amqp_user=USER)

    assert _publish(db, b"\x00not json", "m-garbage") is Verdict.DEAD_LETTERED
    assert _publish(db, {"idempotency_key": "bad key", "command": {}}, "x\x00y") is (
        Verdict.DEAD_LETTERED
    )

    events = _refused_events(db)
    assert [(e["idempotency_key"], e["message_id"], e["code"]) for e in events] == [
        (None, "m-garbage", "invalid_envelope"),
        (None, None, "invalid_envelope"),  # a message id the database cannot store is dropped
    ]
    assert events[0]["errors"][0]["field"] == "body"
    assert all(e["organisation_id"] == str(tenant.organisation_id) for e in events)


def test_field_names_from_the_envelope_lose_what_cannot_be_stored(db: Database) -> None:
    make_tenant(db, amqp_user=USER)
    envelope = {"idempotency_key": "k-odd", "command": {"type": "save_application"}, "x\x00": 1}

    assert _publish(db, envelope) is Verdict.DEAD_LETTERED

    [event] = _refused_events(db)
    assert "x\ufffd" in {e["field"] for e in event["errors"]}
    assert "\x00" not in json.dumps(event, ensure_ascii=False)


def test_a_message_from_an_unknown_amqp_user_is_only_a_dead_letter(db: Database) -> None:
    make_tenant(db, amqp_user=USER)
    body = json.dumps({"idempotency_key": "k-1", "command": {"type": "nope"}}).encode()

    outcome = _ingress(db).handle(body, "someone-else", "m-1")

    assert outcome.verdict is Verdict.DEAD_LETTERED
    with db.transaction() as session:
        assert session.scalars(select(CommandRefusal)).all() == []
        assert len(session.scalars(select(DeadLetter)).all()) == 1


def test_another_organisation_never_sees_a_refusal_under_the_same_key(
    db: Database, client: TestClient
) -> None:
    own = make_tenant(db, amqp_user=USER)
    other = make_tenant(db, name="Other", amqp_user="other-suite")

    assert _publish(db, {"idempotency_key": "k-shared", "command": {"type": "nope"}}) is (
        Verdict.DEAD_LETTERED
    )

    assert [e["status"] for e in _lookup(client, own, "k-shared")] == ["refused"]
    assert _lookup(client, other, "k-shared") == []


def test_refusals_are_forgotten_with_the_idempotency_keys(db: Database) -> None:
    # Given a refusal from three days ago and one from now
    make_tenant(db, amqp_user=USER)
    for key in ("k-old", "k-new"):
        _publish(db, {"idempotency_key": key, "command": {"type": "nope"}})
    with db.transaction() as session:
        session.execute(
            update(CommandRefusal)
            .where(CommandRefusal.idempotency_key == "k-old")
            .values(refused_at=utcnow() - timedelta(days=3))
        )
    # When housekeeping runs with a retention of 48 hours
    with db.transaction() as session:
        forgotten = delete_expired_refusals(session, timedelta(hours=48))
    # Then only the old one is gone
    with db.transaction() as session:
        keys = session.scalars(select(CommandRefusal.idempotency_key)).all()
    assert (forgotten, keys) == (1, ["k-new"])
