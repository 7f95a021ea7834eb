"""One rule for text that cannot be stored: NUL and lone surrogates, refused naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from shared.commands import COMMAND_ADAPTER, BulkCommandEnvelope, CommandEnvelope
from shared.storable_text import UNSTORABLE_CODE, printable, unstorable_reason

APPLICATION = "00000000-0000-4000-8000-000000000001"
VACANCY = "00000000-0000-4000-8000-000000000002"


def _refused(validate: Any, data: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as refused:
        validate(data)
    return [
        (".".join(str(p) for p in e["loc"]), e["type"])
        for e in refused.value.errors(include_url=False)
    ]


@pytest.mark.parametrize("text", ["a\x00b", "\x00", "a\ud800", "\udfff z"])
def test_nul_and_lone_surrogates_cannot_be_stored(text: str) -> None:
    # Given text with NUL or a lone surrogate
    # When the rule is asked
    reason = unstorable_reason(text)
    # Then it says why, naming the code point
    assert reason is not None
    assert "U+0000" in reason or "surrogate" in reason


@pytest.mark.parametrize(
    "text", ["", "plain", "\t\n\r", "\x01\x7f\x85", "\ufffe\uffff", "\U0010ffff", "😀", "ĳ"]
)
def test_every_other_code_point_can_be_stored(text: str) -> None:
    # Given text without NUL or lone surrogates (controls and noncharacters included)
    # When the rule is asked
    # Then it has nothing against it: PostgreSQL stores it as it is
    assert unstorable_reason(text) is None


def test_a_refused_text_is_quoted_with_escapes() -> None:
    # Given text that cannot be stored
    # When it is made printable for an error message
    # Then the offending characters are escapes, and the rest is kept
    assert printable("a\x00b\ud800ĳ") == "a\\x00b\\ud800ĳ"
    assert unstorable_reason(printable("a\x00b\ud800")) is None


def test_a_command_names_each_nested_field_that_cannot_be_stored() -> None:
    # Given a registration with NUL in the applicant's name and a lone surrogate in an answer
    command = {
        "type": "register_application",
        "vacancy_id": VACANCY,
        "applicant": {"name": "Ann\x00", "email": "ann@example.org"},
        "screening_answers": [{"question": "Why?", "answer": "because \ud800"}],
    }
    # When it is validated
    errors = _refused(COMMAND_ADAPTER.validate_python, command)
    # Then each text is named by its path, as unstorable text
    assert errors == [
        ("register_application.applicant.name", UNSTORABLE_CODE),
        ("register_application.screening_answers.0.answer", UNSTORABLE_CODE),
    ]


def test_free_form_variables_are_named_by_key_and_a_bad_key_is_escaped() -> None:
    # Given an email command whose variables hold NUL in a value and in a key
    command = {
        "type": "send_email",
        "application_id": APPLICATION,
        "subject": "Hello",
        "text": "Hi",
        "variables": {"foo": "x\x00", "b\x00r": "y"},
    }
    # When it is validated
    errors = _refused(COMMAND_ADAPTER.validate_python, command)
    # Then the value is named by its key, and the key by its escaped form
    assert ("send_email.variables.foo", UNSTORABLE_CODE) in errors
    assert ("send_email.variables.b\\x00r", UNSTORABLE_CODE) in errors


def test_an_envelope_refuses_nul_in_the_command_type_before_choosing_the_command() -> None:
    # Given an AMQP envelope whose command type carries NUL
    body = json.dumps({"idempotency_key": "k-1", "command": {"type": "withdraw_application\x00"}})
    # When the ingress validates it
    errors = _refused(CommandEnvelope.model_validate_json, body)
    # Then the type is named as unstorable, not quoted back in an unknown-tag message
    assert errors == [("command.type", UNSTORABLE_CODE)]


def test_a_bulk_envelope_names_text_inside_its_free_form_command() -> None:
    # Given a bulk envelope whose command carries NUL in a note
    envelope = {
        "idempotency_key": "k-2",
        "application_ids": [APPLICATION],
        "command": {"type": "save_application", "note": "talent\x00pool"},
    }
    # When it is validated
    errors = _refused(BulkCommandEnvelope.model_validate, envelope)
    # Then the note is named inside the command
    assert errors == [("command.note", UNSTORABLE_CODE)]


def test_nesting_deeper_than_the_interpreter_recursion_limit_is_walked() -> None:
    # Given a bulk command with NUL under 5,000 levels of lists
    deep: list[Any] = []
    inner = deep
    for _ in range(5_000):
        inner.append([])
        inner = inner[0]
    inner.append("\x00")
    envelope = {"idempotency_key": "k-3", "application_ids": [APPLICATION], "command": deep}
    # When it is validated
    errors = _refused(BulkCommandEnvelope.model_validate, envelope)
    # Then the text is found and named (no RecursionError)
    assert errors[0][1] == UNSTORABLE_CODE
    assert errors[0][0].startswith("command.0.0.0")
