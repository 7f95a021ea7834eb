"""The command models: what they accept, and the clear errors for what they refuse."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from shared.commands import (
    COMMAND_ADAPTER,
    CommandEnvelope,
    RegisterApplication,
    WithdrawApplication,
)
from shared.messaging.routes import ROUTES

VACANCY = str(uuid.uuid4())


def _register(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "type": "register_application",
        "vacancy_id": VACANCY,
        "applicant": {"name": "Ann de Vries", "email": "ann@example.org"},
    }
    body.update(overrides)
    return body


def _error_fields(exc: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in exc.errors()}


def test_a_valid_registration_parses_into_its_model() -> None:
    command = COMMAND_ADAPTER.validate_python(_register())
    assert isinstance(command, RegisterApplication)
    assert command.applicant is not None and command.applicant.email == "ann@example.org"


def test_every_command_type_has_a_route_to_a_worker_queue() -> None:
    for model in (RegisterApplication, WithdrawApplication):
        command_type = model.model_fields["type"].default
        assert command_type in ROUTES


def test_unknown_fields_are_refused_and_named() -> None:
    with pytest.raises(ValidationError) as caught:
        COMMAND_ADAPTER.validate_python(_register(salary=100))
    assert "register_application.salary" in _error_fields(caught.value)


def test_an_invalid_email_is_refused_with_the_field_named() -> None:
    with pytest.raises(ValidationError) as caught:
        COMMAND_ADAPTER.validate_python(_register(applicant={"name": "Ann", "email": "ann@"}))
    assert "register_application.applicant.email" in _error_fields(caught.value)


@pytest.mark.parametrize("name", ["Ann\r\nBcc: x@example.org", "Ann\x00", "Ann\u2028B"])
def test_line_breaks_and_control_characters_in_a_name_are_refused(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        COMMAND_ADAPTER.validate_python(
            _register(applicant={"name": name, "email": "a@example.org"})
        )
    assert "register_application.applicant.name" in _error_fields(caught.value)


def test_a_registration_needs_exactly_one_of_applicant_and_applicant_id() -> None:
    with pytest.raises(ValidationError, match="exactly one of applicant or applicant_id"):
        COMMAND_ADAPTER.validate_python(_register(applicant_id=str(uuid.uuid4())))
    with pytest.raises(ValidationError, match="exactly one of applicant or applicant_id"):
        COMMAND_ADAPTER.validate_python(_register(applicant=None))


@pytest.mark.parametrize("version", [0, -1, "3", 2.5, True])
def test_expected_version_must_be_a_positive_integer(version: object) -> None:
    with pytest.raises(ValidationError):
        COMMAND_ADAPTER.validate_python(
            {
                "type": "withdraw_application",
                "application_id": str(uuid.uuid4()),
                "expected_version": version,
            }
        )


def test_an_unknown_command_type_is_refused() -> None:
    with pytest.raises(ValidationError):
        COMMAND_ADAPTER.validate_python({"type": "hire_everyone"})


def test_commands_are_immutable() -> None:
    command = WithdrawApplication(application_id=uuid.uuid4())
    with pytest.raises(ValidationError):
        command.reason = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(("raw", "key"), [("abc-123", "abc-123"), ('"quoted-key"', "quoted-key")])
def test_the_envelope_accepts_a_bare_or_quoted_idempotency_key(raw: str, key: str) -> None:
    envelope = CommandEnvelope.model_validate({"idempotency_key": raw, "command": _register()})
    assert envelope.idempotency_key == key


@pytest.mark.parametrize("key", ["", "with space", "x" * 256, "line\nbreak", "é"])
def test_the_envelope_refuses_a_malformed_idempotency_key(key: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CommandEnvelope.model_validate({"idempotency_key": key, "command": _register()})
    assert "idempotency_key" in _error_fields(caught.value)
