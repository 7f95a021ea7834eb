"""``werving``: run each service, run everything embedded, migrate, administer tenants."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from sqlalchemy import select

from shared.settings import Settings, get_settings

app = typer.Typer(help="werving: recruiter actions as commands.", no_args_is_help=True)
org_app = typer.Typer(help="Organisations (tenants).", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys.", no_args_is_help=True)
deadletters_app = typer.Typer(help="Messages that could not be processed.", no_args_is_help=True)
retention_app = typer.Typer(help="AVG retention: what the policy purges.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(apikey_app, name="apikey")
app.add_typer(deadletters_app, name="deadletters")
app.add_typer(retention_app, name="retention")


def _configure_logging() -> None:
    from shared.logging import configure_logging

    settings = get_settings()
    configure_logging(log_format=settings.resolved_log_format, level=settings.log_level)


@app.command()
def api(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the command API (FastAPI under uvicorn)."""
    from services.processes import serve_api

    _configure_logging()
    serve_api(get_settings(), host, port)


@app.command()
def relay() -> None:
    """Publish the outbox to RabbitMQ (safe to run as several copies)."""
    from services.processes import run_relay, stop_on_signals

    _configure_logging()
    run_relay(get_settings(), stop_on_signals())


@app.command()
def ingress() -> None:
    """Consume command envelopes that upstream systems publish on RabbitMQ."""
    from services.processes import run_ingress, stop_on_signals

    _configure_logging()
    run_ingress(get_settings(), stop_on_signals())


@app.command()
def scheduler() -> None:
    """Hand scheduled jobs (emails with a send time) to their worker when due."""
    from services.processes import run_scheduler_process, stop_on_signals

    _configure_logging()
    run_scheduler_process(get_settings(), stop_on_signals())


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    from shared.db.migrate import upgrade

    _configure_logging()
    upgrade(get_settings().database_url)


@app.command()
def dev(
    host: Annotated[str, typer.Option(help="Address the API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the API, its docs and /dev/mail.")] = 8000,
    smtp_port: Annotated[
        int, typer.Option(help="Port of the local mail sink (on 127.0.0.1).")
    ] = 8025,
    var_dir: Annotated[
        Path, typer.Option(help="Where the database, documents and caught mail go.")
    ] = Path("var"),
) -> None:
    """Run everything in one process: SQLite, in-process broker, local mail sink."""
    from services.embedded import run_embedded

    run_embedded(host=host, port=port, smtp_port=smtp_port, var_dir=var_dir.resolve())


@app.command()
def contracts(
    directory: Annotated[Path, typer.Argument(help="Where to write them.")] = Path(
        "docs/contracts"
    ),
) -> None:
    """Write the OpenAPI, AsyncAPI and JSON Schema documents generated from the code."""
    from services.contracts_export import export

    for path in export(directory, Settings()):
        typer.echo(str(path))


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Option(help="The organisation's name.")],
    locale: Annotated[str, typer.Option(help="Default locale: nl or en.")] = "nl",
    amqp_user: Annotated[
        str | None, typer.Option(help="RabbitMQ user whose messages act for this organisation.")
    ] = None,
    sender_email: Annotated[
        str | None,
        typer.Option(help="Verified address its mail comes from (its domain signs Message-IDs)."),
    ] = None,
    sender_name: Annotated[str | None, typer.Option(help="Display name for its mail.")] = None,
) -> None:
    """Create an organisation and print its id. With --amqp-user, the rabbitmqctl
    commands that grant that user this organisation's commands and events and nothing
    more follow on standard error."""
    from services.command_api.api_keys import create_organisation
    from shared.db.database import Database

    sender = _checked_org_fields(locale, sender_email)
    db = Database(get_settings().database_url)
    with db.transaction() as session:
        organisation = create_organisation(
            session,
            name,
            default_locale=locale,
            amqp_user=amqp_user,
            sender_email=sender,
            sender_name=sender_name,
        )
        organisation_id = organisation.id
    typer.echo(str(organisation_id))
    if amqp_user:
        _print_grants(organisation_id, amqp_user)


def _print_grants(organisation_id: UUID, user: str | None, previous: str | None = None) -> None:
    """The rabbitmqctl commands that revoke ``previous`` and grant ``user``, on standard
    error (standard output stays what scripts read), for the broker URL's virtual host."""
    from shared.messaging.grants import grant_commands, revoke_commands, shell_lines, vhost_of

    settings = get_settings()
    if settings.uses_stub_broker:
        typer.echo("# set WERVING_BROKER_URL to print the RabbitMQ permissions", err=True)
        return
    vhost = vhost_of(settings.broker_url)
    lines = []
    if previous and previous != user:
        lines.append("# RabbitMQ: take back what the previous AMQP user was granted")
        lines += shell_lines(
            revoke_commands(previous, vhost=vhost, events_exchange=settings.events_exchange)
        )
    if user:
        lines.append(
            "# RabbitMQ: let the AMQP user publish commands and hear this organisation's"
            " events, nothing more (create it first: rabbitmqctl add_user)"
        )
        lines += shell_lines(
            grant_commands(
                user,
                organisation_id,
                vhost=vhost,
                events_exchange=settings.events_exchange,
                ingress_exchange=settings.ingress_exchange,
            )
        )
    for line in lines:
        typer.echo(line, err=True)


def _checked_org_fields(locale: str | None, sender_email: str | None) -> str | None:
    """Refuse a locale werving has no templates for; the sender address, normalised."""
    from shared.commands.fields import parse_email
    from shared.emails.locales import LOCALES

    if locale is not None and locale not in LOCALES:
        raise typer.BadParameter(
            f"locale must be one of {', '.join(LOCALES)}", param_hint="--locale"
        )
    try:
        return parse_email(sender_email) if sender_email else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--sender-email") from None


@org_app.command("update")
def org_update(
    organisation_id: Annotated[UUID, typer.Argument(help="The organisation's id.")],
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    locale: Annotated[str | None, typer.Option(help="Default locale: nl or en.")] = None,
    amqp_user: Annotated[
        str | None, typer.Option(help="RabbitMQ user whose messages act for it ('' for none).")
    ] = None,
    sender_email: Annotated[
        str | None, typer.Option(help="Verified address its mail comes from.")
    ] = None,
    sender_name: Annotated[str | None, typer.Option(help="Display name for its mail.")] = None,
) -> None:
    """Change what is given, keep the rest; prints the organisation as JSON. With
    --amqp-user, the rabbitmqctl commands that revoke the previous user and grant the new
    one follow on standard error."""
    from sqlalchemy.exc import IntegrityError

    from shared.db.database import Database
    from shared.db.models import Organisation

    sender = _checked_org_fields(locale, sender_email)
    db = Database(get_settings().database_url)
    try:
        with db.transaction() as session:
            organisation = session.get(Organisation, organisation_id, with_for_update=True)
            if organisation is None:
                raise typer.BadParameter(
                    f"organisation {organisation_id} not found", param_hint="ORGANISATION_ID"
                )
            if name is not None:
                organisation.name = name
            if locale is not None:
                organisation.default_locale = locale
            previous_user = organisation.amqp_user
            if amqp_user is not None:
                organisation.amqp_user = amqp_user or None
            if sender is not None:
                organisation.sender_email = sender
            if sender_name is not None:
                organisation.sender_name = sender_name
            session.flush()
            shown = {
                "id": str(organisation.id),
                "name": organisation.name,
                "locale": organisation.default_locale,
                "amqp_user": organisation.amqp_user,
                "sender_email": organisation.sender_email,
                "sender_name": organisation.sender_name,
            }
    except IntegrityError:
        raise typer.BadParameter(
            f"AMQP user {amqp_user!r} already acts for another organisation",
            param_hint="--amqp-user",
        ) from None
    typer.echo(json.dumps(shown))
    if amqp_user is not None:
        _print_grants(organisation_id, amqp_user or None, previous_user)


@apikey_app.command("create")
def apikey_create(
    org: Annotated[UUID, typer.Option(help="The organisation's id.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated scopes, or 'all'.")],
    name: str = "default",
) -> None:
    """Create an API key and print it. It is shown this once and stored only as a hash."""
    from services.command_api.api_keys import ALL_SCOPES, Scope, create_api_key
    from shared.db.database import Database

    try:
        chosen = (
            list(ALL_SCOPES)
            if scopes == "all"
            else [Scope(s.strip()) for s in scopes.split(",") if s.strip()]
        )
    except ValueError:
        valid = ", ".join(s.value for s in ALL_SCOPES)
        raise typer.BadParameter(f"known scopes: {valid}", param_hint="--scopes") from None
    if not chosen:
        raise typer.BadParameter("give at least one scope", param_hint="--scopes")
    db = Database(get_settings().database_url)
    with db.transaction() as session:
        try:
            key = create_api_key(session, org, chosen, name=name)
        except LookupError as exc:
            raise typer.BadParameter(str(exc), param_hint="--org") from None
    typer.echo(key)


@apikey_app.command("list")
def apikey_list(
    org: Annotated[UUID, typer.Option(help="The organisation's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show the organisation's keys: id, name, scopes, created and revoked (no secrets)."""
    from services.command_api.api_keys import list_api_keys
    from shared.db.database import Database

    with Database(get_settings().database_url).transaction() as session:
        for key in list_api_keys(session, org):
            row = {
                "key_id": key.key_id,
                "name": key.name,
                "scopes": key.scopes,
                "created_at": key.created_at.isoformat(),
                "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
            }
            if as_json:
                typer.echo(json.dumps(row))
            else:
                row["scopes"] = ",".join(key.scopes)
                typer.echo("  ".join(str(v) for v in row.values()))


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[str, typer.Argument(help="The id shown by 'apikey list' (wv_<id>_...).")],
    org: Annotated[UUID, typer.Option(help="The organisation's id.")],
) -> None:
    """Revoke a key at once: the next request that presents it is refused with 401."""
    from services.command_api.api_keys import revoke_api_key
    from shared.db.database import Database

    with Database(get_settings().database_url).transaction() as session:
        try:
            key = revoke_api_key(session, org, key_id)
        except LookupError as exc:
            raise typer.BadParameter(str(exc), param_hint="KEY_ID") from None
        assert key.revoked_at is not None
        typer.echo(f"{key.key_id}  revoked at {key.revoked_at.isoformat()}")


@app.command()
def send(
    path: Annotated[Path, typer.Argument(help="The envelope, as JSON; - for standard input.")],
    org: Annotated[UUID, typer.Option(help="The organisation that sends it.")],
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the outcome (0: do not wait).", min=0)
    ] = 0,
) -> None:
    """Send a command from a JSON file: the envelope upstream systems publish on the
    ingress queue, {"idempotency_key": ..., "command": {...}}, or a bulk one with
    "application_ids" (the command without application_id). Same validation and
    idempotency as HTTP (the same key and body answer the first response again);
    prints the accepted response, then with --wait each command's outcome: exit 0 when
    all succeeded, 1 when any was rejected or failed, 2 when one had none in time."""
    import time

    from services.command_api.idempotency import KeyInProgress
    from services.command_api.ingress import accept_envelope
    from services.command_api.refusals import EnvelopeRefused
    from shared.db.database import Database
    from shared.db.models import CommandRecord, Organisation

    text = sys.stdin.read() if str(path) == "-" else _read(path)
    settings = get_settings()
    db = Database(settings.database_url)
    with db.transaction() as session:
        if session.get(Organisation, org) is None:
            raise typer.BadParameter(f"organisation {org} not found", param_hint="--org")
        try:
            response = accept_envelope(
                session,
                organisation_id=org,
                body=text,
                source="cli",
                retention=timedelta(hours=settings.idempotency_retention_hours),
            )
        except EnvelopeRefused as refused:  # shown here, so not stored as a refusal
            raise typer.BadParameter(
                f"refused ({refused.code}): {refused.detail}", param_hint="PATH"
            ) from None
        except KeyInProgress:
            raise typer.BadParameter(
                "a command with this idempotency_key is being accepted right now; try again",
                param_hint="PATH",
            ) from None
    typer.echo(json.dumps({**response.body, "replayed": response.replayed}))
    if not wait:
        return
    body = response.body
    items = [body] if "command_id" in body else body["items"]
    pending = [UUID(str(i["command_id"])) for i in items if i.get("command_id")]
    all_succeeded = len(pending) == len(items)  # a refused bulk item has no command
    deadline = time.monotonic() + wait
    while pending:
        with db.transaction() as session:
            done = session.scalars(
                select(CommandRecord)
                .where(
                    CommandRecord.id.in_(pending),
                    CommandRecord.organisation_id == org,
                    CommandRecord.status != "accepted",
                )
                .order_by(CommandRecord.id)
            ).all()
            for record in done:
                outcome = {
                    "command_id": str(record.id),
                    "status": record.status,
                    "code": record.outcome_code,
                    "message": record.outcome_message,
                    "result": record.result,
                }
                typer.echo(json.dumps(outcome))
                all_succeeded &= record.status == "succeeded"
                pending.remove(record.id)
        if pending and time.monotonic() >= deadline:
            typer.echo(f"no outcome after {wait:g} s for {len(pending)} command(s)", err=True)
            raise typer.Exit(2)
        if pending:
            time.sleep(0.1)
    raise typer.Exit(0 if all_succeeded else 1)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(str(exc), param_hint="PATH") from None


@app.command()
def queues(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Show what is waiting: each queue's depth and consumers on RabbitMQ, the outbox's
    unpublished rows, scheduled jobs past due, dead letters not replayed; and what is stuck:
    emails by state (pending, sending, unknown) with those past their time, and jobs whose
    email or document never came."""
    import pika

    from shared.db.database import Database
    from shared.db.types import utcnow
    from shared.messaging.backlog import (
        document_jobs_without_document,
        emails_by_state,
        mail_jobs_without_email,
        outbox_lag,
        overdue_jobs,
        queue_depths,
        unreplayed_dead_letters,
    )
    from shared.messaging.routes import WORKER_QUEUES_WITH_SIBLINGS

    settings = get_settings()
    depths = []
    if not settings.uses_stub_broker:  # the embedded mode's broker lives in its own process
        try:
            depths = queue_depths(
                settings.broker_url, [*WORKER_QUEUES_WITH_SIBLINGS, settings.ingress_queue]
            )
        except pika.exceptions.AMQPConnectionError as exc:
            params = pika.URLParameters(settings.broker_url)  # no credentials in the message
            raise typer.BadParameter(
                f"cannot reach RabbitMQ on {params.host}:{params.port}: {type(exc).__name__}",
                param_hint="WERVING_BROKER_URL",
            ) from None
    now = utcnow()
    with Database(settings.database_url).transaction() as session:
        waiting = {
            "outbox unpublished": outbox_lag(session, now),
            "scheduled jobs past due": overdue_jobs(session, now),
            "dead letters not replayed": unreplayed_dead_letters(session, now),
            "mail jobs without an email": mail_jobs_without_email(session, now),
            "document jobs without a document": document_jobs_without_document(session, now),
        }
        emails = emails_by_state(session, now)
    if as_json:
        report = {
            "queues": {d.queue: {"ready": d.messages, "consumers": d.consumers} for d in depths},
            **{
                name.replace(" ", "_"): {"count": w.count, "oldest_age_s": _seconds(w.oldest_age)}
                for name, w in waiting.items()
            },
            "emails": {
                e.state: {
                    "count": e.count,
                    "past_time": e.past_time,
                    "oldest_age_s": _seconds(e.oldest_age),
                }
                for e in emails
            },
        }
        typer.echo(json.dumps(report))
        return
    if settings.uses_stub_broker:
        typer.echo("queues: none to show, the embedded broker keeps them in its own process")
    else:
        typer.echo(f"{'queue':<20} {'ready':>8} {'consumers':>10}  (- : not declared yet)")
    for d in depths:
        ready, consumers = ("-", "-") if d.messages is None else (str(d.messages), str(d.consumers))
        typer.echo(f"{d.queue:<20} {ready:>8} {consumers:>10}")
    for name, w in waiting.items():
        oldest = f", oldest {w.oldest_age.total_seconds():.1f} s ago" if w.oldest_age else ""
        typer.echo(f"{name}: {w.count}{oldest}")
    for e in emails:
        oldest = (
            f", oldest changed {e.oldest_age.total_seconds():.1f} s ago" if e.oldest_age else ""
        )
        typer.echo(f"emails {e.state}: {e.count} ({e.past_time} past their time){oldest}")


def _seconds(age: timedelta | None) -> float | None:
    return None if age is None else age.total_seconds()


@retention_app.command("preview")
def retention_preview(
    org: Annotated[UUID, typer.Option(help="The organisation's id.")],
    limit: Annotated[int, typer.Option(help="At most this many of each.", min=1)] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The dry-run: what the scheduler's next retention sweep would purge for the
    organisation, and why, and whom it would ask to extend their consent. Changes
    nothing."""
    from shared.db.database import Database
    from shared.db.models import Organisation
    from shared.db.types import utcnow
    from shared.retention.preview import preview

    with Database(get_settings().database_url).transaction() as session:
        if session.get(Organisation, org) is None:
            raise typer.BadParameter(f"organisation {org} not found", param_hint="--org")
        found = preview(session, org, utcnow(), limit=limit)
    policy = found.policy
    rows: list[dict[str, str]] = [
        {
            "action": "purge",
            "application_id": str(p.application_id),
            "status": p.status + (" (deleted)" if p.deleted else ""),
            "reason": str(p.reason),
            "due_since": p.due_since.isoformat(),
        }
        for p in found.purges
    ] + [
        {
            "action": "remind",
            "applicant_id": str(r.applicant_id),
            "consent_expires_at": r.consent_expires_at.isoformat(),
        }
        for r in found.reminders
    ]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    state = "enabled" if policy.enabled else "disabled"
    typer.echo(
        f"policy ({state}): purge {policy.purge_after_weeks} weeks after the procedure,"
        f" consent {policy.consent_months} months, reminder {policy.reminder_days} days before"
    )
    for row in rows:
        typer.echo("  ".join(str(v) for v in row.values()))
    typer.echo(f"{len(found.purges)} to purge, {len(found.reminders)} to remind")


@deadletters_app.command("list")
def deadletters_list(
    limit: int = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show the newest dead letters with their reasons."""
    from shared.db.database import Database
    from shared.db.models import DeadLetter

    db = Database(get_settings().database_url)
    with db.transaction() as session:
        letters = session.scalars(
            select(DeadLetter).order_by(DeadLetter.created_at.desc()).limit(limit)
        ).all()
        for letter in letters:
            row = {
                "id": str(letter.id),
                "created_at": letter.created_at.isoformat(),
                "source": letter.source,
                "queue": letter.queue,
                "actor": letter.actor_name,
                "command_id": str(letter.command_id) if letter.command_id else None,
                "replayed_at": letter.replayed_at.isoformat() if letter.replayed_at else None,
                "reason": letter.reason,
            }
            typer.echo(json.dumps(row) if as_json else "  ".join(str(v) for v in row.values()))


@deadletters_app.command("show")
def deadletters_show(letter_id: UUID) -> None:
    """Show one dead letter whole: its reason and the message as it was received."""
    from shared.db.database import Database
    from shared.db.models import DeadLetter

    db = Database(get_settings().database_url)
    with db.transaction() as session:
        letter = session.get(DeadLetter, letter_id)
        if letter is None:
            raise typer.BadParameter(f"no dead letter {letter_id}", param_hint="LETTER_ID")
        typer.echo(
            json.dumps(
                {
                    column.key: _jsonable(getattr(letter, column.key))
                    for column in DeadLetter.__table__.columns
                },
                indent=2,
            )
        )


def _jsonable(value: object) -> object:
    return value if value is None or isinstance(value, str | int) else str(value)


@deadletters_app.command("replay")
def deadletters_replay(
    letter_ids: Annotated[list[UUID], typer.Argument(metavar="LETTER_ID...")],
) -> None:
    """Queue the messages of these dead letters again, through the outbox (the relay
    publishes them). A failed command is reopened and gets a fresh outcome. Each letter
    is replayed at most once; exits 1 when any could not be."""
    from shared.db.database import Database
    from shared.messaging.replay import NotReplayable, replay_dead_letter

    db = Database(get_settings().database_url)
    refused = 0
    for letter_id in letter_ids:
        try:
            with db.transaction() as session:
                replayed = replay_dead_letter(session, letter_id)
        except (LookupError, NotReplayable) as exc:
            refused += 1
            typer.echo(f"{letter_id}  not replayed: {exc}", err=True)
            continue
        reopened = f"  command {replayed.command_id} reopened" if replayed.command_id else ""
        typer.echo(
            f"{letter_id}  replayed to {replayed.route.queue}/{replayed.route.actor}{reopened}"
        )
    if refused:
        raise typer.Exit(1)
