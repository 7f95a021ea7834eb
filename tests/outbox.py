"""Publishing outbox rows again, as a redelivery or a relay's retry would."""

from __future__ import annotations

from collections.abc import Sequence

from shared.db.models import OutboxMessage
from shared.messaging.publishers import Outgoing, PipelinedPublisher
from shared.messaging.relay import outgoing_for
from shared.settings import Settings


def outgoing(rows: Sequence[OutboxMessage]) -> list[Outgoing]:
    """The messages the relay publishes for ``rows``, byte for byte."""
    exchange = Settings().events_exchange
    return [outgoing_for(row, exchange) for row in rows]


def publish(amqp_url: str, messages: list[Outgoing]) -> None:
    """Publish ``messages`` with confirms; every one must be confirmed."""
    publisher = PipelinedPublisher(amqp_url)
    publisher.connect()
    try:
        assert set(publisher.publish(messages).values()) == {None}
    finally:
        publisher.close()
