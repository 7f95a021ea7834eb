"""The operator CLI: organisations, API keys, dead letters, queues, sending commands."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner, Result

from services.cli import app
from shared.db.database import Database
from shared.db.models import ApiKey, CommandRecord, Organisation
from shared.messaging.dead_letters import record_dead_letter
from shared.settings import get_settings
from tests.conftest import Tenant
from tests.factories import open_vacancy, register_body
from tests.workflow import run

runner = CliRunner()


def _said(result: Result) -> str:
    """The output as words, whatever box and line width the error panel used."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())


@pytest.fixture(autouse=True)
def _database(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WERVING_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_an_organisation_and_a_scoped_key_are_created_and_the_key_is_stored_hashed(
    db: Database,
) -> None:
    created = runner.invoke(
        app, ["org", "create", "--name", "Acme", "--locale", "en", "--amqp-user", "acme"]
    )
    assert created.exit_code == 0, created.output
    organisation_id = created.stdout.strip()
    key = runner.invoke(
        app,
        ["apikey", "create", "--org", organisation_id, "--scopes", "commands:write,commands:read"],
    )
    assert key.exit_code == 0, key.output
    secret = key.output.strip().split("_", 2)[2]
    with db.transaction() as session:
        organisation = session.scalars(select(Organisation)).one()
        stored = session.scalars(select(ApiKey)).one()
    assert (organisation.name, organisation.default_locale, organisation.amqp_user) == (
        "Acme",
        "en",
        "acme",
    )
    assert stored.scopes == ["commands:read", "commands:write"]
    assert secret not in stored.secret_hash and len(stored.secret_hash) == 64


def test_an_unknown_scope_or_organisation_is_refused_with_a_clear_message(db: Database) -> None:
    organisation_id = runner.invoke(app, ["org", "create", "--name", "Acme"]).output.strip()
    bad_scope = runner.invoke(
        app, ["apikey", "create", "--org", organisation_id, "--scopes", "god-mode"]
    )
    assert bad_scope.exit_code != 0
    assert "known scopes" in bad_scope.output
    unknown = runner.invoke(
        app,
        ["apikey", "create", "--org", "00000000-0000-4000-8000-000000000000", "--scopes", "all"],
    )
    assert unknown.exit_code != 0
    assert "not found" in unknown.output


def test_dead_letters_are_listed_with_their_reason(db: Database) -> None:
    with db.transaction() as session:
        record_dead_letter(
            session, source="ingress", queue="werving.commands", reason="bad json", body=b"{"
        )
    listed = runner.invoke(app, ["deadletters", "list", "--json"])
    assert listed.exit_code == 0
    assert '"reason": "bad json"' in listed.output


def test_the_queues_report_in_the_embedded_mode_shows_what_waits_in_the_database(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WERVING_BROKER_URL", "stub://")
    get_settings.cache_clear()
    with db.transaction() as session:
        record_dead_letter(
            session, source="ingress", queue="werving.commands", reason="x", body="{"
        )

    shown = runner.invoke(app, ["queues"])

    assert shown.exit_code == 0, shown.output
    assert "embedded broker" in shown.output
    assert "outbox unpublished: 0\n" in shown.output
    assert "dead letters not replayed: 1, oldest" in shown.output


def test_an_organisation_gets_its_verified_sender_and_a_bad_address_is_refused(
    db: Database,
) -> None:
    created = runner.invoke(
        app,
        [
            "org",
            "create",
            "--name",
            "Acme",
            "--sender-email",
            "HR@Acme.example",
            "--sender-name",
            "Acme HR",
        ],
    )
    assert created.exit_code == 0, created.output
    with db.transaction() as session:
        organisation = session.scalars(select(Organisation)).one()
    assert (organisation.sender_email, organisation.sender_name) == ("HR@acme.example", "Acme HR")
    bad = runner.invoke(app, ["org", "create", "--name", "Bad", "--sender-email", "not an address"])
    assert bad.exit_code != 0
    assert "sender-email" in bad.output


def _envelope(tmp_path: Path, command: dict[str, object], key: str = "cli-test-1") -> str:
    path = tmp_path / "command.json"
    path.write_text(json.dumps({"idempotency_key": key, "command": command}))
    return str(path)


def test_a_command_sent_from_a_file_is_accepted_once_per_key(
    db: Database, tenant: Tenant, tmp_path: Path
) -> None:
    vacancy = open_vacancy(db, tenant.organisation_id)
    path = _envelope(tmp_path, register_body(vacancy))
    org = str(tenant.organisation_id)

    first = runner.invoke(app, ["send", path, "--org", org])
    again = runner.invoke(app, ["send", path, "--org", org])

    assert first.exit_code == 0, first.output
    accepted, replayed = json.loads(first.stdout), json.loads(again.stdout)
    assert (accepted["status"], accepted["replayed"], replayed["replayed"]) == (
        "accepted",
        False,
        True,
    )
    assert replayed["command_id"] == accepted["command_id"]
    with db.transaction() as session:
        record = session.scalars(select(CommandRecord)).one()
        assert (str(record.id), record.source) == (accepted["command_id"], "cli")


def test_a_bad_file_is_refused_naming_the_field_and_nothing_is_stored(
    db: Database, tenant: Tenant, tmp_path: Path
) -> None:
    path = _envelope(tmp_path, {"type": "withdraw_application", "application_id": "nope"})
    refused = runner.invoke(app, ["send", path, "--org", str(tenant.organisation_id)])
    missing_file = runner.invoke(
        app, ["send", path.replace("command", "missing"), "--org", str(tenant.organisation_id)]
    )
    valid = _envelope(tmp_path, register_body(open_vacancy(db, tenant.organisation_id)))
    unknown_org = runner.invoke(
        app, ["send", valid, "--org", "00000000-0000-4000-8000-000000000000"]
    )
    assert refused.exit_code == 2
    assert "refused (invalid_envelope): command.application_id: Input should be a valid UUID" in (
        _said(refused)
    )
    assert missing_file.exit_code == 2 and "No such file" in _said(missing_file)
    assert unknown_org.exit_code == 2 and "not found" in _said(unknown_org)
    with db.transaction() as session:
        assert session.scalars(select(CommandRecord)).all() == []


def test_waiting_for_an_outcome_no_worker_gives_ends_with_exit_code_2(
    db: Database, tenant: Tenant, tmp_path: Path
) -> None:
    path = _envelope(tmp_path, register_body(open_vacancy(db, tenant.organisation_id)))
    waited = runner.invoke(
        app, ["send", path, "--org", str(tenant.organisation_id), "--wait", "0.3"]
    )
    assert waited.exit_code == 2
    assert "no outcome after 0.3 s" in waited.stderr


def test_a_revoked_key_is_refused_at_once_and_listed_as_revoked(
    db: Database, client: TestClient
) -> None:
    org = runner.invoke(app, ["org", "create", "--name", "Acme"]).output.strip()
    key = runner.invoke(app, ["apikey", "create", "--org", org, "--scopes", "all"]).output.strip()
    key_id = key.split("_")[1]
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/vacancies", headers=headers).status_code == 200

    revoked = runner.invoke(app, ["apikey", "revoke", key_id, "--org", org])

    assert revoked.exit_code == 0, revoked.output
    assert client.get("/v1/vacancies", headers=headers).status_code == 401
    (listed,) = [
        json.loads(line)
        for line in runner.invoke(
            app, ["apikey", "list", "--org", org, "--json"]
        ).stdout.splitlines()
    ]
    assert listed["key_id"] == key_id and listed["revoked_at"] is not None
    assert key.split("_", 2)[2] not in json.dumps(listed)


def test_a_key_of_another_organisation_cannot_be_revoked(db: Database) -> None:
    mine = runner.invoke(app, ["org", "create", "--name", "Mine"]).output.strip()
    theirs = runner.invoke(app, ["org", "create", "--name", "Theirs"]).output.strip()
    key = runner.invoke(app, ["apikey", "create", "--org", theirs, "--scopes", "all"]).output
    refused = runner.invoke(app, ["apikey", "revoke", key.split("_")[1], "--org", mine])
    assert refused.exit_code == 2 and "has no key" in _said(refused)
    with db.transaction() as session:
        assert session.scalars(select(ApiKey)).one().revoked_at is None


def test_a_bulk_envelope_sent_from_a_file_fans_out(
    db: Database, tenant: Tenant, tmp_path: Path
) -> None:
    org = tenant.organisation_id
    vacancy = open_vacancy(db, org)
    applications = [run(db, org, register_body(vacancy)).application_id for _ in range(2)]
    path = tmp_path / "bulk.json"
    path.write_text(
        json.dumps(
            {
                "idempotency_key": "cli-bulk-1",
                "application_ids": [str(a) for a in applications],
                "command": {"type": "save_application"},
            }
        )
    )

    sent = runner.invoke(app, ["send", str(path), "--org", str(org)])

    assert sent.exit_code == 0, sent.output
    accepted = json.loads(sent.stdout)
    assert accepted["count"] == 2
    assert [i["idempotency_key"] for i in accepted["items"]] == [
        f"cli-bulk-1/{a}" for a in applications
    ]
    with db.transaction() as session:
        sources = session.scalars(
            select(CommandRecord.source).where(CommandRecord.type == "save_application")
        ).all()
    assert sources == ["cli", "cli"]


def test_an_organisation_is_updated_field_by_field_and_amqp_users_stay_unique(
    db: Database,
) -> None:
    acme = runner.invoke(app, ["org", "create", "--name", "Acme", "--amqp-user", "acme"])
    runner.invoke(app, ["org", "create", "--name", "Other", "--amqp-user", "other"])
    org = acme.stdout.strip()

    updated = runner.invoke(
        app, ["org", "update", org, "--locale", "en", "--sender-email", "HR@Acme.example"]
    )
    taken = runner.invoke(app, ["org", "update", org, "--amqp-user", "other"])
    cleared = runner.invoke(app, ["org", "update", org, "--amqp-user", ""])

    assert updated.exit_code == 0, updated.output
    assert {k: json.loads(updated.stdout)[k] for k in ("name", "locale", "sender_email")} == {
        "name": "Acme",
        "locale": "en",
        "sender_email": "HR@acme.example",
    }
    assert taken.exit_code == 2 and "already acts for another organisation" in _said(taken)
    assert cleared.exit_code == 0 and json.loads(cleared.stdout)["amqp_user"] is None
    with db.transaction() as session:
        organisation = session.get(Organisation, uuid.UUID(org))
        assert organisation is not None
        assert (organisation.default_locale, organisation.amqp_user) == ("en", None)


def test_retention_preview_lists_what_the_next_sweep_purges_and_why(
    db: Database, tenant: Tenant
) -> None:
    # Given a withdrawn application on a vacancy that closed five weeks ago
    from tests.retention import advance_clock, close_vacancy

    vacancy = open_vacancy(db, tenant.organisation_id)
    registered = run(db, tenant.organisation_id, register_body(vacancy))
    run(
        db,
        tenant.organisation_id,
        {"type": "withdraw_application", "application_id": str(registered.application_id)},
    )
    close_vacancy(db, vacancy)
    advance_clock(db, days=35)
    # When the operator asks for the dry-run, as text and as JSON
    text = runner.invoke(app, ["retention", "preview", "--org", str(tenant.organisation_id)])
    lines = runner.invoke(
        app, ["retention", "preview", "--org", str(tenant.organisation_id), "--json"]
    )
    unknown = runner.invoke(app, ["retention", "preview", "--org", str(uuid.uuid4())])
    # Then both name the application and why; nothing is purged; an unknown org is refused
    assert text.exit_code == 0, text.output
    assert "1 to purge, 0 to remind" in text.stdout
    [row] = [json.loads(line) for line in lines.stdout.splitlines()]
    assert datetime.fromisoformat(row.pop("due_since")) < datetime.now(UTC)
    assert row == {
        "action": "purge",
        "application_id": str(registered.application_id),
        "status": "withdrawn",
        "reason": "application_ended",
    }
    assert unknown.exit_code == 2 and "not found" in _said(unknown)
    with db.transaction() as session:
        assert (
            session.scalar(select(CommandRecord).where(CommandRecord.source == "retention")) is None
        )
