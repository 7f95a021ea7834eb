"""The RabbitMQ permissions werving prints for an organisation's AMQP user. Python's
``re.search`` stands in for RabbitMQ's unanchored PCRE match here; the integration test
runs the printed commands against RabbitMQ itself."""

from __future__ import annotations

import re
import shlex
import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from services.cli import app
from shared.messaging.grants import grant_commands, revoke_commands, shell_lines, vhost_of
from shared.settings import get_settings

A = uuid.UUID("0190aaaa-0000-7000-8000-00000000000a")
B = uuid.UUID("0190bbbb-0000-7000-8000-00000000000b")
runner = CliRunner()


def _grants(user: str = "hr.suite", **exchanges: str) -> tuple[list[str], list[str]]:
    permissions, topic = grant_commands(
        user,
        A,
        vhost="/",
        events_exchange=exchanges.get("events", "werving.events"),
        ingress_exchange=exchanges.get("ingress", "werving.ingress"),
    )
    return permissions, topic


def test_the_printed_commands_are_exact_with_escaped_anchored_patterns() -> None:
    permissions, topic = _grants()

    own = r"0190aaaa-0000-7000-8000-00000000000a\."
    assert permissions == [
        "rabbitmqctl",
        "set_permissions",
        "-p",
        "/",
        "hr.suite",
        f"^{own}",
        rf"^({own}.*|werving\.ingress)$",
        rf"^({own}.*|werving\.events)$",
    ]
    assert topic == [
        "rabbitmqctl",
        "set_topic_permissions",
        "-p",
        "/",
        "hr.suite",
        "werving.events",
        "^$",
        f"^{own}",
    ]


def test_the_patterns_cover_the_organisations_names_and_keys_and_nothing_else() -> None:
    permissions, topic = _grants()
    configure, write, read = permissions[5:]
    topic_write, topic_read = topic[6:]

    def allowed(pattern: str, names: list[str]) -> list[bool]:
        return [re.search(pattern, name) is not None for name in names]

    queues = [f"{A}.events", f"{A}.x.y", f"{B}.events", "amq.gen-AbC", "werving.commands", "status"]
    assert allowed(configure, queues) == [True, True, False, False, False, False]
    exchanges = ["werving.ingress", "amq.default", "werving.events", "werving.ingressX", "status"]
    assert allowed(write, [*exchanges, f"{A}.events"]) == [True, False, False, False, False, True]
    assert allowed(read, ["werving.events", "werving.commands", f"{A}.events", f"{B}.events"]) == [
        True,
        False,
        True,
        False,
    ]
    bindings = [f"{A}.#", f"{A}.command.completed", "#", "*.command.completed", f"{B}.#", str(A)]
    assert allowed(topic_read, bindings) == [True, True, False, False, False, False]
    assert allowed(topic_write, [f"{A}.command.completed", f"{B}.x", "#"]) == [False] * 3


def test_exchange_names_are_matched_literally() -> None:
    permissions, _ = _grants(events="ev+x.y", ingress="in(1)")

    assert permissions[6].endswith(r"|in\(1\))$")
    assert permissions[7].endswith(r"|ev\+x\.y)$")
    assert re.search(permissions[7], "ev+x.y") and not re.search(permissions[7], "evvx.y")


def test_each_printed_line_is_one_command_a_shell_splits_back_into_its_arguments() -> None:
    commands = grant_commands(
        "it's me", A, vhost="prod vhost", events_exchange="werving.events", ingress_exchange="i"
    )
    commands += revoke_commands("it's me", vhost="prod vhost", events_exchange="werving.events")

    lines = shell_lines(commands)

    assert [shlex.split(line) for line in lines] == commands
    assert lines[2] == "rabbitmqctl clear_permissions -p 'prod vhost' 'it'\"'\"'s me'"


def test_the_virtual_host_is_the_broker_urls() -> None:
    assert vhost_of("amqp://u:p@rabbit:5672/%2F") == "/"
    assert vhost_of("amqp://u:p@rabbit:5672/werving") == "werving"
    assert vhost_of("amqp://u:p@rabbit:5672/a%2Fb") == "a/b"


@pytest.fixture
def _cli_env(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WERVING_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("WERVING_BROKER_URL", "amqp://werving:secret@rabbit:5672/hr%2Dprod")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _commands(stderr: str) -> list[list[str]]:
    return [shlex.split(line) for line in stderr.splitlines() if not line.startswith("#")]


@pytest.mark.usefixtures("_cli_env")
def test_org_create_prints_the_grants_on_stderr_and_only_the_id_on_stdout() -> None:
    created = runner.invoke(app, ["org", "create", "--name", "Acme", "--amqp-user", "acme"])

    assert created.exit_code == 0, created.output
    organisation_id = uuid.UUID(created.stdout.strip())
    assert _commands(created.stderr) == grant_commands(
        "acme",
        organisation_id,
        vhost="hr-prod",
        events_exchange="werving.events",
        ingress_exchange="werving.ingress",
    )
    assert "secret" not in created.output


@pytest.mark.usefixtures("_cli_env")
def test_org_update_revokes_the_previous_user_and_grants_the_new_one() -> None:
    organisation = runner.invoke(app, ["org", "create", "--name", "Acme", "--amqp-user", "old"])
    organisation_id = organisation.stdout.strip()

    moved = runner.invoke(app, ["org", "update", organisation_id, "--amqp-user", "new"])
    cleared = runner.invoke(app, ["org", "update", organisation_id, "--amqp-user", ""])
    renamed = runner.invoke(app, ["org", "update", organisation_id, "--name", "Acme BV"])

    revoke_old = revoke_commands("old", vhost="hr-prod", events_exchange="werving.events")
    revoke_new = revoke_commands("new", vhost="hr-prod", events_exchange="werving.events")
    grant_new = grant_commands(
        "new",
        uuid.UUID(organisation_id),
        vhost="hr-prod",
        events_exchange="werving.events",
        ingress_exchange="werving.ingress",
    )
    assert _commands(moved.stderr) == revoke_old + grant_new
    assert _commands(cleared.stderr) == revoke_new
    assert renamed.stderr == ""


def test_without_a_broker_url_org_create_says_how_to_print_the_grants(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WERVING_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    try:
        created = runner.invoke(app, ["org", "create", "--name", "Acme", "--amqp-user", "acme"])
    finally:
        get_settings.cache_clear()

    assert created.exit_code == 0
    assert _commands(created.stderr) == []
    assert "WERVING_BROKER_URL" in created.stderr
