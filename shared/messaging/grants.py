"""The RabbitMQ permissions that confine an organisation's AMQP user to its own commands
and events, as the ``rabbitmqctl`` commands an operator runs.

In its virtual host the user may:

- publish envelopes on the ingress exchange, and on no other exchange: the default
  exchange would let it write to every queue, RabbitMQ checking write permission on the
  exchange only;
- declare, bind, consume and delete queues (and exchanges) named
  ``<organisation id>.<anything>``: the organisation id, not the user name, is the prefix,
  because user names may contain dots and one user's prefix could then cover another's
  names (``hr.`` covers ``hr.suite.``); server-named ``amq.gen-*`` queues are not its own,
  so they are refused;
- bind its queues to the events exchange only with keys that start with
  ``<organisation id>.`` (a topic permission), so it hears its own events and no other
  organisation's; it can never publish there.

RabbitMQ matches these regular expressions anywhere in a name (an unanchored search),
hence the ``^`` and ``$``.
"""

from __future__ import annotations

import shlex
from typing import Final
from uuid import UUID

import pika

_PCRE_SPECIAL: Final = frozenset("\\^$.|?*+()[]{}")
NOTHING: Final = "^$"
"""A topic pattern no routing key of werving's matches (an empty key is never used)."""


def pcre_literal(text: str) -> str:
    """``text`` as a regular expression that matches exactly that text."""
    return "".join(f"\\{c}" if c in _PCRE_SPECIAL else c for c in text)


def own_names(organisation_id: UUID) -> str:
    """The pattern of the names and event routing keys that belong to the organisation."""
    return f"^{pcre_literal(f'{organisation_id}.')}"


def vhost_of(broker_url: str) -> str:
    """The virtual host a broker URL names (``/`` when it names none)."""
    return str(pika.URLParameters(broker_url).virtual_host)


def grant_commands(
    user: str,
    organisation_id: UUID,
    *,
    vhost: str,
    events_exchange: str,
    ingress_exchange: str,
) -> list[list[str]]:
    """The commands that give ``user`` what an integrator of the organisation needs."""
    own = pcre_literal(f"{organisation_id}.")
    ingress = pcre_literal(ingress_exchange)
    events = pcre_literal(events_exchange)
    return [
        [
            "rabbitmqctl",
            "set_permissions",
            "-p",
            vhost,
            user,
            own_names(organisation_id),
            f"^({own}.*|{ingress})$",
            f"^({own}.*|{events})$",
        ],
        [
            "rabbitmqctl",
            "set_topic_permissions",
            "-p",
            vhost,
            user,
            events_exchange,
            NOTHING,
            own_names(organisation_id),
        ],
    ]


def revoke_commands(user: str, *, vhost: str, events_exchange: str) -> list[list[str]]:
    """The commands that take away what ``grant_commands`` gave ``user``."""
    return [
        ["rabbitmqctl", "clear_permissions", "-p", vhost, user],
        ["rabbitmqctl", "clear_topic_permissions", "-p", vhost, user, events_exchange],
    ]


def shell_lines(commands: list[list[str]]) -> list[str]:
    """Each command as one line a POSIX shell runs as it is (arguments quoted)."""
    return [shlex.join(command) for command in commands]
