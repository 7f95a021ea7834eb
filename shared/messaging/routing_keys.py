"""Event routing keys: ``<organisation id>.<event name>``.

The organisation comes first so that RabbitMQ's topic permissions can confine a
subscriber to its own keys (``^<organisation id>\\.``). A UUID has no dots, so the
first word of a key is always the whole organisation id. Bindings:

- every event of one organisation: ``<organisation id>.#``;
- one event type of one organisation: ``<organisation id>.command.completed``;
- one event type of every organisation (an operator's user): ``*.command.completed``.
"""

from __future__ import annotations

from uuid import UUID


def event_routing_key(organisation_id: UUID, event_name: str) -> str:
    return f"{organisation_id}.{event_name}"


def organisation_binding(organisation_id: UUID) -> str:
    """The binding key for every event of one organisation."""
    return f"{organisation_id}.#"
