"""status_worker's actors: one per command, thin wrappers around the handlers.

Queue ``status``; retries: 8 with backoff up to 5 minutes, and for as long as the database
is away (shared.messaging.retries); a PermanentError is dead-lettered at once. Idempotent on
the command id (inbox table).
"""

from __future__ import annotations

from typing import Any

import dramatiq

from services.status_worker import boot
from services.status_worker.handlers import HANDLERS
from services.status_worker.unit_of_work import Handler, run_command
from shared.messaging.broker import ACTOR_OPTIONS
from shared.messaging.routes import route_for


def _actor(command_type: str, handler: Handler) -> dramatiq.Actor[[dict[str, Any]], None]:
    route = route_for(command_type)

    def apply(message: dict[str, Any]) -> None:
        run_command(boot.db, message, handler)

    apply.__name__ = apply.__qualname__ = command_type
    return dramatiq.actor(actor_name=route.actor, queue_name=route.queue, **ACTOR_OPTIONS)(apply)


ACTORS = {command_type: _actor(command_type, handler) for command_type, handler in HANDLERS.items()}
register_application = ACTORS["register_application"]
withdraw_application = ACTORS["withdraw_application"]
