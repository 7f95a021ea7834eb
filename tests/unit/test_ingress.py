"""The AMQP ingress's acceptance of one message, without a broker."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from services.command_api import ingress as ingress_module
from services.command_api.idempotency import KeyInProgress
from services.command_api.ingress import MAX_ENVELOPE_BYTES, CommandIngress, Delivery, Verdict
from shared.db.database import Database
from shared.db.models import CommandRecord, DeadLetter, DeliveryAttempt
from shared.messaging.delivery_attempts import DeliveryAttempts
from shared.messaging.limits import MAX_REDELIVERIES
from tests.conftest import make_tenant
from tests.factories import open_vacancy, register_body


def _ingress(db: Database, *, max_redeliveries: int = MAX_REDELIVERIES) -> CommandIngress:
    return CommandIngress(
        db,
        queue="werving.commands",
        retention=timedelta(hours=48),
        max_redeliveries=max_redeliveries,
    )


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


def _letter(db: Database) -> DeadLetter:
    with db.transaction() as session:
        letter = session.scalars(select(DeadLetter)).one()
        session.expunge(letter)
        return letter


def test_the_nested_array_body_of_issue_18_is_dead_lettered_not_raised(db: Database) -> None:
    # Given a known AMQP user, and the 2 KB body that raised RecursionError in the bulk check
    make_tenant(db, amqp_user="hr-suite")
    body = b'{"a":' + b"[" * 1000 + b"]" * 1000 + b"}"
    # When the ingress receives it
    outcome = _ingress(db).receive(Delivery(body, "hr-suite", "m-1"))
    # Then it is a dead letter naming what is wrong, kept byte for byte
    assert outcome.verdict is Verdict.DEAD_LETTERED
    letter = _letter(db)
    assert "invalid command envelope" in letter.reason
    assert letter.body.encode() == body


def test_a_body_over_the_limit_is_dead_lettered_unparsed_and_stored_truncated(
    db: Database,
) -> None:
    make_tenant(db, amqp_user="hr-suite")
    body = b'{"idempotency_key": "' + b"k" * MAX_ENVELOPE_BYTES + b'"}'
    outcome = _ingress(db).receive(Delivery(body, "hr-suite", "m-1"))
    assert outcome.verdict is Verdict.DEAD_LETTERED
    letter = _letter(db)
    assert letter.reason.startswith(
        f"body of {len(body)} bytes is over the limit of {MAX_ENVELOPE_BYTES}"
    )
    assert letter.reason.endswith(f"(body of {len(body)} bytes: the first 65536 stored)")
    assert letter.body.encode() == body[:65536]


def test_an_envelope_that_is_not_json_by_its_content_type_is_dead_lettered(db: Database) -> None:
    tenant = make_tenant(db, amqp_user="hr-suite")
    body = json.dumps(
        {
            "idempotency_key": "k-1",
            "command": register_body(open_vacancy(db, tenant.organisation_id)),
        }
    ).encode()
    outcome = _ingress(db).receive(Delivery(body, "hr-suite", "m-1", content_type="text/plain"))
    assert outcome.verdict is Verdict.DEAD_LETTERED
    assert outcome.reason == "content_type: 'text/plain' is not application/json"
    assert _count(db, CommandRecord) == 0


def test_an_unexpected_exception_dead_letters_only_that_message(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an acceptance that fails in a way nobody foresaw, for one message
    tenant = make_tenant(db, amqp_user="hr-suite")
    vacancy = open_vacancy(db, tenant.organisation_id)
    real = ingress_module.accept_envelope

    def flaky(session: Any, **kwargs: Any) -> Any:
        if b"k-boom" in kwargs["body"]:
            raise ZeroDivisionError("boom")
        return real(session, **kwargs)

    monkeypatch.setattr(ingress_module, "accept_envelope", flaky)
    ingress = _ingress(db)
    boom = json.dumps({"idempotency_key": "k-boom", "command": register_body(vacancy)}).encode()
    fine = json.dumps({"idempotency_key": "k-fine", "command": register_body(vacancy)}).encode()
    # When it and a good one arrive
    outcomes = [
        ingress.receive(Delivery(b, "hr-suite", m)) for b, m in ((boom, "m-1"), (fine, "m-2"))
    ]
    # Then the first is a dead letter with the exception's type, the next is accepted
    assert [o.verdict for o in outcomes] == [Verdict.DEAD_LETTERED, Verdict.ACCEPTED]
    assert outcomes[0].reason == "unexpected error: ZeroDivisionError"


def test_a_refusal_that_cannot_be_stored_still_leaves_the_body_as_a_dead_letter(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a refusal record the database will not take (a value it cannot store)
    tenant = make_tenant(db, amqp_user="hr-suite")
    vacancy = open_vacancy(db, tenant.organisation_id)

    def unstorable(session: Any, **kwargs: Any) -> None:
        raise DataError("INSERT INTO command_refusals ...", None, ValueError("bad value"))

    monkeypatch.setattr(ingress_module, "record_refusal", unstorable)
    first = json.dumps({"idempotency_key": "k-1", "command": register_body(vacancy)}).encode()
    second = json.dumps({"idempotency_key": "k-1", "command": register_body(vacancy)}).encode()
    ingress = _ingress(db)
    ingress.receive(Delivery(first, "hr-suite", "m-1"))
    # When an envelope is refused (its key was used for another command)
    outcome = ingress.receive(Delivery(second, "hr-suite", "m-2"))
    # Then it is settled as a dead letter with its body, not sent back to come again
    assert outcome.verdict is Verdict.DEAD_LETTERED
    with db.transaction() as session:
        letter = session.scalars(select(DeadLetter)).one()
    assert letter.body == second.decode()
    assert "could not be stored: DataError" in letter.reason
    assert "already used for a different command" in letter.reason


def test_a_message_redelivered_past_the_limit_is_dead_lettered_instead_of_run(
    db: Database,
) -> None:
    # Given an envelope whose processing never got to settle it (the process died)
    tenant = make_tenant(db, amqp_user="hr-suite")
    body = json.dumps(
        {
            "idempotency_key": "k-1",
            "command": register_body(open_vacancy(db, tenant.organisation_id)),
        }
    ).encode()
    poison = Delivery(body, "hr-suite", "m-1", redelivered=True)
    # And two processes that started it again and died before settling it
    crashed = DeliveryAttempts(db, consumer="ingress")
    started = [crashed.started(poison.key) for _ in range(2)]
    # When RabbitMQ delivers it once more, past the limit of 2
    outcome = _ingress(db, max_redeliveries=2).receive(poison)
    # Then it is dead-lettered, not accepted, and its count is gone
    assert started == [1, 2]
    assert outcome.verdict is Verdict.DEAD_LETTERED
    assert outcome.reason == "delivery limit: started 3 times without being settled"
    assert _count(db, CommandRecord) == 0
    assert _count(db, DeliveryAttempt) == 0


def test_a_redelivered_message_within_the_limit_is_accepted_and_its_count_forgotten(
    db: Database,
) -> None:
    tenant = make_tenant(db, amqp_user="hr-suite")
    body = json.dumps(
        {
            "idempotency_key": "k-1",
            "command": register_body(open_vacancy(db, tenant.organisation_id)),
        }
    ).encode()
    outcome = _ingress(db).receive(Delivery(body, "hr-suite", "m-1", redelivered=True))
    assert outcome.verdict is Verdict.ACCEPTED
    assert _count(db, DeliveryAttempt) == 0


def test_a_message_the_ingress_sent_back_to_wait_is_not_charged_when_it_returns(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an envelope whose key is being accepted elsewhere at its first delivery
    tenant = make_tenant(db, amqp_user="hr-suite")
    body = json.dumps(
        {
            "idempotency_key": "k-1",
            "command": register_body(open_vacancy(db, tenant.organisation_id)),
        }
    ).encode()
    real = ingress_module.accept_envelope
    calls: list[int] = []

    def busy_once(session: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise KeyInProgress
        return real(session, **kwargs)

    monkeypatch.setattr(ingress_module, "accept_envelope", busy_once)
    ingress = _ingress(db, max_redeliveries=0)
    # When the ingress sends it back to wait, and RabbitMQ delivers it again (redelivered)
    first = ingress.receive(Delivery(body, "hr-suite", "m-1"))
    again = ingress.receive(Delivery(body, "hr-suite", "m-1", redelivered=True))
    # Then the return is no crash's: accepted, although the limit allows no redelivered start
    assert (first.verdict, again.verdict) == (Verdict.RETRY_LATER, Verdict.ACCEPTED)
    assert _count(db, DeliveryAttempt) == 0
