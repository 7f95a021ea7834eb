"""docker-compose.yml and deploy/Dockerfile agree with each other and with the code.

Nothing here needs Docker: the files are parsed as text/YAML, ``werving`` commands are
checked against the Typer app, and Dramatiq worker modules are located with
``importlib.util.find_spec`` (never imported: importing actors builds a broker).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from shared.messaging.limits import TIME_LIMIT_MS
from shared.messaging.publishers import PipelinedPublisher
from shared.messaging.routes import WORKER_QUEUES
from shared.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"

INFRASTRUCTURE_SERVICES = ("rabbitmq", "postgres", "mailpit")
OUR_SERVICES = (
    "migrate",
    "command_api",
    "relay",
    "scheduler",
    "ingress",
    "status_worker",
    "mail_worker",
    "document_worker",
)
SERVICES_WITH_HEALTHCHECK = ("rabbitmq", "postgres", "command_api")
WEASYPRINT_SYSTEM_PACKAGES = (
    "libpango-1.0-0",
    "libpangoft2-1.0-0",
    "libharfbuzz-subset0",
    "fonts-dejavu-core",
)

_FROM_LINE = re.compile(r"^FROM\s+\S+(?:\s+AS\s+(?P<stage>\S+))?\s*$", re.IGNORECASE)


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


@cache
def compose_services() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    services: dict[str, dict[str, Any]] = document["services"]
    return services


def built_services() -> dict[str, dict[str, Any]]:
    """Services whose image is built from our Dockerfile (as opposed to pulled)."""
    return {name: spec for name, spec in compose_services().items() if "build" in spec}


def commands_starting_with(program: str) -> list[tuple[str, list[str]]]:
    return [
        (name, [str(word) for word in spec["command"]])
        for name, spec in built_services().items()
        if spec.get("command") and str(spec["command"][0]) == program
    ]


@cache
def dockerfile_stages() -> dict[str, str]:
    """Stage name -> the Dockerfile text of that stage (from its FROM to the next FROM)."""
    stages: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        match = _FROM_LINE.match(line.strip())
        if match:
            current = []
            stages[match["stage"] or f"<unnamed {len(stages)}>"] = current
        if current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in stages.items()}


def stage_instructions(stage_text: str, instruction: str) -> list[str]:
    """Arguments of every ``instruction`` in a stage, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", stage_text)
    prefix = re.compile(rf"^\s*{instruction}\s+(?P<args>.*)$", re.IGNORECASE)
    return [m["args"].strip() for line in joined.splitlines() if (m := prefix.match(line))]


def sub_commands(command: Any) -> dict[str, Any] | None:
    """A group's sub-commands, or None for a leaf command.

    Duck-typed on purpose: Typer builds its commands on a vendored click, so they are not
    instances of ``click.Group``.
    """
    commands = getattr(command, "commands", None)
    return commands if isinstance(commands, dict) else None


def resolve_cli_command(root: Any, words: list[str]) -> tuple[list[str], Any, list[str]]:
    """Walk (possibly nested) command groups along ``words``.

    Returns the sub-command path taken, the command reached and the words left over
    (its options and arguments).
    """
    path: list[str] = []
    command = root
    rest = list(words)
    while rest and not rest[0].startswith("-") and (group := sub_commands(command)) is not None:
        if rest[0] not in group:
            break
        path.append(rest.pop(0))
        command = group[path[-1]]
    return path, command, rest


def werving_cli() -> Any:
    from services.cli import app

    return typer.main.get_command(app)


def dramatiq_queues(words: list[str]) -> list[str]:
    """Values of ``--queues``/``-Q`` (nargs='*': everything up to the next option)."""
    queues: list[str] = []
    collecting = False
    for word in words:
        if word in ("--queues", "-Q"):
            collecting = True
        elif word.startswith("-"):
            collecting = False
        elif collecting:
            queues.append(word)
    return queues


# ---------------------------------------------------------------------------------------
# docker-compose.yml: services
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", INFRASTRUCTURE_SERVICES + OUR_SERVICES)
def test_compose_defines_every_service_of_the_system(service: str) -> None:
    # Given docker-compose.yml
    # When its services are read
    services = compose_services()
    # Then the service is one of them
    assert service in services, f"docker-compose.yml has no service {service!r}"


@pytest.mark.parametrize("service", SERVICES_WITH_HEALTHCHECK)
def test_infrastructure_and_the_api_declare_a_healthcheck(service: str) -> None:
    # Given a service that others wait on with condition: service_healthy
    spec = compose_services()[service]
    # When its healthcheck is read
    healthcheck = spec.get("healthcheck") or {}
    # Then it has a test command
    assert healthcheck.get("test"), f"{service} has no healthcheck test"


def test_every_service_waited_on_as_healthy_has_a_healthcheck() -> None:
    # Given every depends_on entry with condition service_healthy
    services = compose_services()
    waited_on = {
        dependency
        for spec in services.values()
        if isinstance(spec.get("depends_on"), dict)
        for dependency, condition in spec["depends_on"].items()
        if condition.get("condition") == "service_healthy"
    }
    # When the dependencies without a healthcheck are collected
    missing = sorted(name for name in waited_on if not services[name].get("healthcheck"))
    # Then there are none (compose would otherwise never start the dependent)
    assert missing == []


def test_every_service_built_from_our_dockerfile_runs_werving_or_dramatiq() -> None:
    # Given the services built from deploy/Dockerfile
    services = built_services()
    assert set(services) == set(OUR_SERVICES)
    # When their commands' first words are collected
    programs = {
        name: str(spec["command"][0]) for name, spec in services.items() if spec.get("command")
    }
    # Then each has a command and it starts with werving or dramatiq
    assert set(programs) == set(services), "a built service has no command"
    assert {name: p for name, p in programs.items() if p not in ("werving", "dramatiq")} == {}


@pytest.mark.parametrize("service", OUR_SERVICES)
def test_every_built_service_uses_the_repo_dockerfile_with_its_own_target(service: str) -> None:
    # Given a service built by compose
    build = compose_services()[service]["build"]
    # When its build section is read
    # Then it builds deploy/Dockerfile from the repo root, target named after the service
    assert build["context"] == "."
    assert build["dockerfile"] == "deploy/Dockerfile"
    assert build["target"] == service


# ---------------------------------------------------------------------------------------
# docker-compose.yml: commands exist in the code
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "words"),
    commands_starting_with("werving"),
    ids=[name for name, _ in commands_starting_with("werving")],
)
def test_every_werving_command_in_compose_exists_in_the_cli(service: str, words: list[str]) -> None:
    # Given the Typer app behind the `werving` console script
    root = werving_cli()
    # When the compose command is walked down its (possibly nested) sub-commands
    path, command, rest = resolve_cli_command(root, words[1:])
    # Then it reaches a real command, not a group
    assert path, f"{service}: `{' '.join(words)}` names no werving sub-command"
    assert sub_commands(command) is None, (
        f"{service}: `werving {' '.join(path)}` is a group, not a command"
    )
    # And its options and arguments parse (unknown options or bad values raise here)
    command.make_context(" ".join(["werving", *path]), rest)


def test_the_cli_walker_follows_nested_sub_commands() -> None:
    # Given a Typer app with a nested group, shaped like `werving org create`
    app = typer.Typer()
    org = typer.Typer()

    @app.command()
    def relay() -> None:  # pragma: no cover - never invoked
        pass

    @org.command()
    def create(name: str) -> None:  # pragma: no cover - never invoked
        pass

    app.add_typer(org, name="org")
    root = typer.main.get_command(app)
    # When `org create acme` and `nope` are walked
    path, command, rest = resolve_cli_command(root, ["org", "create", "acme"])
    missing_path, _, _ = resolve_cli_command(root, ["nope"])
    # Then the nested command is reached with its argument left over, and `nope` is not
    assert path == ["org", "create"]
    assert command.name == "create"
    assert rest == ["acme"]
    assert missing_path == []


@pytest.mark.parametrize(
    ("service", "words"),
    commands_starting_with("dramatiq"),
    ids=[name for name, _ in commands_starting_with("dramatiq")],
)
def test_every_dramatiq_worker_module_exists(service: str, words: list[str]) -> None:
    # Given a worker started as `dramatiq <module> ...`
    module = words[1]
    # When the module is located (find_spec only: importing actors builds a broker)
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        spec = None
    # Then it exists
    assert spec is not None, f"{service}: module {module!r} not found"


@pytest.mark.parametrize(
    ("service", "words"),
    commands_starting_with("dramatiq"),
    ids=[name for name, _ in commands_starting_with("dramatiq")],
)
def test_every_dramatiq_worker_consumes_only_known_queues(service: str, words: list[str]) -> None:
    # Given a worker's dramatiq command line
    # When its --queues values are read
    queues = dramatiq_queues(words)
    # Then it names at least one queue and every one is a worker queue of the routing table
    assert queues, f"{service}: no --queues given (it would consume every queue)"
    assert set(queues) <= set(WORKER_QUEUES), f"{service}: unknown queues {queues}"


def test_every_worker_queue_has_a_worker_in_compose() -> None:
    # Given the worker queues of the routing table
    # When the queues consumed by the compose workers are collected
    consumed = {
        q for _, words in commands_starting_with("dramatiq") for q in dramatiq_queues(words)
    }
    # Then no queue is left without a consumer
    assert set(WORKER_QUEUES) <= consumed


# ---------------------------------------------------------------------------------------
# deploy/Dockerfile
# ---------------------------------------------------------------------------------------


def test_every_compose_target_is_a_stage_of_the_dockerfile() -> None:
    # Given the build targets named in docker-compose.yml
    targets = {spec["build"]["target"] for spec in built_services().values()}
    # When the Dockerfile's `FROM ... AS <stage>` lines are read
    stages = set(dockerfile_stages())
    # Then every target is a stage
    assert targets <= stages, f"missing stages: {sorted(targets - stages)}"


@pytest.mark.parametrize("service", OUR_SERVICES)
def test_every_target_runs_as_a_non_root_user(service: str) -> None:
    # Given the Dockerfile stage a service is built from
    stage = dockerfile_stages()[service]
    # When its USER instructions are read
    users = stage_instructions(stage, "USER")
    # Then the last one is not root
    assert users, f"stage {service} sets no USER (it would run as root)"
    assert users[-1].split(":")[0] not in ("root", "0")


@pytest.mark.parametrize("service", OUR_SERVICES)
def test_every_target_default_command_matches_compose(service: str) -> None:
    # Given the Dockerfile stage a service is built from
    cmds = stage_instructions(dockerfile_stages()[service], "CMD")
    # When its (exec-form) CMD is parsed
    assert cmds, f"stage {service} has no CMD"
    default_command = json.loads(cmds[-1])
    # Then it is the command compose runs, so the image alone behaves the same
    assert default_command == [str(word) for word in compose_services()[service]["command"]]


@pytest.mark.parametrize("package", WEASYPRINT_SYSTEM_PACKAGES)
def test_document_worker_image_installs_weasyprint_system_libraries(package: str) -> None:
    # Given the document_worker stage
    stage = dockerfile_stages()["document_worker"]
    # When its RUN instructions are read
    runs = " ".join(stage_instructions(stage, "RUN"))
    # Then one of them apt-get installs the library WeasyPrint loads at runtime
    assert "apt-get install" in runs
    assert re.search(rf"(?<![\w.-]){re.escape(package)}(?![\w.-])", runs), package


@pytest.mark.parametrize("service", ["command_api", "scheduler", "document_worker", "mail_worker"])
def test_the_services_that_read_or_write_documents_share_one_store(service: str) -> None:
    # Given the API (downloads), the scheduler (sweeps), document_worker (writes) and
    # mail_worker (attachments)
    definition = compose_services()[service]
    directory = definition["environment"]["WERVING_DOCUMENTS_DIR"]
    # When their volumes are read
    mounts = {m.split(":")[1]: m.split(":")[0] for m in definition.get("volumes", [])}
    # Then the document directory is the one named volume, the same for all of them
    assert mounts.get(directory) == "documents"
    assert "documents" in yaml.safe_load(COMPOSE_FILE.read_text())["volumes"]


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert match and any(match.groups()), f"not a compose duration: {duration!r}"
    minutes, seconds = (int(part or 0) for part in match.groups())
    return minutes * 60 + seconds


@pytest.mark.parametrize("service", ["status_worker", "mail_worker", "document_worker"])
def test_a_stopped_worker_is_given_longer_than_any_message_it_may_be_in(service: str) -> None:
    # docker compose sends SIGKILL after the grace period: a worker killed mid-send leaves
    # an email to its lease (and, for an offer or a contract, reported unknown).
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    longest_message_s = max(
        TIME_LIMIT_MS / 1000,  # Dramatiq's time limit for every actor
        defaults["smtp_timeout_s"],
        defaults["mail_lease_s"] / 2,  # one SMTP send's deadline
        defaults["pdf_wall_seconds"],
    )
    grace = _seconds(str(compose_services()[service]["stop_grace_period"]))
    assert grace > longest_message_s


def test_a_stopped_relay_is_given_longer_than_a_batch_waits_for_its_confirms() -> None:
    confirm_timeout_s = inspect.signature(PipelinedPublisher).parameters["confirm_timeout_s"]
    grace = _seconds(str(compose_services()["relay"]["stop_grace_period"]))
    assert grace > confirm_timeout_s.default
