"""status_worker's actors: one per command, thin wrappers around the handlers.

Queue ``status``; retries: 8 with backoff up to 5 minutes; a PermanentError is
dead-lettered at once. Idempotent on the command id (inbox table).
"""

from __future__ import annotations

from typing import Any

import dramatiq

from services.status_worker import boot, handlers
from services.status_worker.unit_of_work import Handler, run_command
from shared.messaging.broker import ACTOR_OPTIONS
from shared.messaging.routes import route_for


def _actor(command_type: str, handler: Handler) -> dramatiq.Actor[[dict[str, Any]], None]:
    route = route_for(command_type)

    def apply(message: dict[str, Any]) -> None:
        run_command(boot.db, message, handler)

    apply.__name__ = apply.__qualname__ = command_type
    return dramatiq.actor(actor_name=route.actor, queue_name=route.queue, **ACTOR_OPTIONS)(apply)


register_application = _actor("register_application", handlers.register_application)
withdraw_application = _actor("withdraw_application", handlers.withdraw_application)
