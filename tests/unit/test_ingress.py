"""The AMQP ingress's acceptance of one message, without a broker."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from services.command_api.ingress import CommandIngress, Verdict
from shared.db.database import Database
from shared.db.models import CommandRecord, DeadLetter
from tests.conftest import make_tenant
from tests.factories import open_vacancy, register_body


def _ingress(db: Database) -> CommandIngress:
    return CommandIngress(db, queue="werving.commands", retention=timedelta(hours=48))


def _count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_an_envelope_from_a_known_amqp_user_is_accepted_for_its_organisation(db: Database) -> None:
    tenant = make_tenant(db, amqp_user="hr-suite")
    body = json.dumps(
        {
            "idempotency_key": "k-1",
            "command": register_body(open_vacancy(db, tenant.organisation_id)),
        }
    ).encode()
    outcome = _ingress(db).handle(body, "hr-suite", "m-1")
    assert outcome.verdict is Verdict.ACCEPTED
    with db.transaction() as session:
        record = session.scalars(select(CommandRecord)).one()
    assert (record.organisation_id, record.source, record.idempotency_key) == (
        tenant.organisation_id,
        "amqp",
        "k-1",
    )


def test_a_redelivered_envelope_is_accepted_once(db: Database) -> None:
    tenant = make_tenant(db, amqp_user="hr-suite")
    body = json.dumps(
        {
            "idempotency_key": "k-1",
            "command": register_body(open_vacancy(db, tenant.organisation_id)),
        }
    ).encode()
    assert _ingress(db).handle(body, "hr-suite", "m-1").verdict is Verdict.ACCEPTED
    assert _ingress(db).handle(body, "hr-suite", "m-1").verdict is Verdict.ACCEPTED
    assert _count(db, CommandRecord) == 1


def test_a_reused_key_with_another_command_is_dead_lettered(db: Database) -> None:
    tenant = make_tenant(db, amqp_user="hr-suite")
    vacancy = open_vacancy(db, tenant.organisation_id)
    first = json.dumps({"idempotency_key": "k-1", "command": register_body(vacancy)}).encode()
    second = json.dumps({"idempotency_key": "k-1", "command": register_body(vacancy)}).encode()
    _ingress(db).handle(first, "hr-suite", "m-1")
    outcome = _ingress(db).handle(second, "hr-suite", "m-2")
    assert outcome.verdict is Verdict.DEAD_LETTERED
    assert outcome.reason == "idempotency_key was already used for a different command"
    assert _count(db, CommandRecord) == 1
    assert _count(db, DeadLetter) == 1


def test_an_unknown_amqp_user_is_unauthorised_and_nothing_is_accepted(db: Database) -> None:
    tenant = make_tenant(db, amqp_user="hr-suite")
    body = json.dumps(
        {
            "idempotency_key": "k-1",
            "command": register_body(open_vacancy(db, tenant.organisation_id)),
        }
    ).encode()
    outcome = _ingress(db).handle(body, "someone-else", str(uuid.uuid4()))
    assert outcome.verdict is Verdict.DEAD_LETTERED
    assert outcome.reason == "unauthorised: no organisation for AMQP user 'someone-else'"
    assert _count(db, CommandRecord) == 0
