"""AMQP command ingress: upstream systems publish command envelopes on a durable queue.

The organisation is the one mapped to the message's ``user_id`` property.
RabbitMQ refuses a message whose ``user_id`` differs from the connection's user,
so the property is as trustworthy as the broker login. Each message then goes
through the same acceptance code as HTTP. A message that cannot be accepted is
recorded in ``dead_letters`` with its reason and acked; nothing is dropped silently
and one bad message never stops the consumer: a body over the size limit is not
parsed, any exception while handling a message dead-letters that message, and only an
unavailable database or an idempotency key in progress send it back to wait. One that
keeps coming back because the process died on it is dead-lettered after the delivery
limit (``shared.messaging.delivery_attempts``).
"""

from __future__ import annotations

import hashlib
import threading
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Final
from uuid import UUID

import pika
import structlog
from pika.adapters.blocking_connection import BlockingChannel
from pydantic import ValidationError
from pydantic_core import from_json
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from services.command_api.acceptance import (
    InvalidBulkCommandError,
    Source,
    accept_bulk,
    accept_command,
)
from services.command_api.idempotency import KeyInProgress, KeyReused, Response
from services.command_api.refusals import (
    EnvelopeRefused,
    invalid_envelope,
    key_reused,
    record_bulk_item_refusals,
    record_refusal,
)
from shared.commands import BulkCommandEnvelope, CommandEnvelope
from shared.db.database import Database
from shared.db.models import Organisation
from shared.messaging.consumer import allow_any_amqp_headers
from shared.messaging.dead_letters import record_dead_letter
from shared.messaging.delivery_attempts import DeliveryAttempts, limit_reached_reason
from shared.messaging.limits import MAX_REDELIVERIES
from shared.messaging.screening import content_refusal
from shared.outages import UNEXPECTED_FAILURE_PAUSE_S, Outage
from shared.settings import INGRESS_EXCHANGE

log = structlog.get_logger(__name__)

# As HTTP takes for a command (a bulk of up to 500 included); a larger body is not parsed.
MAX_ENVELOPE_BYTES: Final = 5 * 1024 * 1024
# Keys of messages this process sent back to wait: their next delivery is no crash's.
_REQUEUED_KEYS_KEPT: Final = 10_000
# What a lost or refused connection to RabbitMQ raises in pika (an AssertionError too,
# from a BlockingConnection used as its connection is lost, as the workers' consumer
# finds: shared.messaging.consumer).
_BROKER_ERRORS: Final = (pika.exceptions.AMQPError, AssertionError, OSError)


class Verdict(Enum):
    ACCEPTED = "accepted"
    DEAD_LETTERED = "dead_lettered"
    RETRY_LATER = "retry_later"


@dataclass(frozen=True, slots=True)
class IngressOutcome:
    verdict: Verdict
    reason: str | None = None
    # How long a message to retry later waits before it goes back to the queue.
    pause_s: float = 0.5


class _Undeliverable(Exception):  # noqa: N818 - a verdict, raised to roll the acceptance back
    def __init__(
        self,
        reason: str,
        organisation_id: UUID | None = None,
        refused: EnvelopeRefused | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.organisation_id = organisation_id
        self.refused = refused


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the ingress reads of one AMQP delivery."""

    body: bytes
    user_id: str | None = None
    message_id: str | None = None
    redelivered: bool = False
    content_type: object = None
    content_encoding: object = None

    @property
    def key(self) -> str:
        """The message's identity for the delivery limit: its publisher's message id, or
        its body when it has none."""
        identity = self.message_id.encode() if self.message_id else self.body
        return hashlib.sha256(f"{self.user_id}\0".encode() + identity).hexdigest()


class CommandIngress:
    def __init__(
        self,
        db: Database,
        *,
        queue: str,
        retention: timedelta,
        exchange: str = INGRESS_EXCHANGE,
        max_redeliveries: int = MAX_REDELIVERIES,
    ) -> None:
        self._db = db
        self._queue = queue
        self._retention = retention
        self._exchange = exchange
        self._attempts = DeliveryAttempts(db, consumer="ingress")
        self._max_redeliveries = max_redeliveries
        self._requeued: set[str] = set()
        self._database = Outage("database", loop="ingress")

    def receive(self, delivery: Delivery) -> IngressOutcome:
        """Settle one delivery: accepted, dead-lettered, or to wait and come back."""
        # The key hashes the body when there is no message id: only for a redelivery.
        key = delivery.key if delivery.redelivered else None
        if key is not None and key in self._requeued:
            self._requeued.discard(key)
            key = None  # sent back by this process, not left by a crash: not counted
        outcome = None
        if key is not None:
            try:
                starts = self._attempts.started(key)
            except SQLAlchemyError as exc:
                return self._wait(key, self._database_away(exc))
            if starts > self._max_redeliveries:  # dead-lettered, not run
                reason = limit_reached_reason(starts)
                outcome = self._dead_letter(delivery.body, reason, delivery.message_id, None)
        if outcome is None:
            outcome = self._handle_guarded(delivery)
        if outcome.verdict is Verdict.RETRY_LATER:
            return self._wait(key or delivery.key, outcome)
        self._database.restored()
        if key is not None:
            self._forget(key)
        return outcome

    def _handle_guarded(self, delivery: Delivery) -> IngressOutcome:
        refused = content_refusal(delivery.content_type, delivery.content_encoding)
        if refused is not None:
            return self._dead_letter(delivery.body, refused, delivery.message_id, None)
        return self.handle(delivery.body, delivery.user_id, delivery.message_id)

    def _wait(self, key: str, outcome: IngressOutcome) -> IngressOutcome:
        if len(self._requeued) >= _REQUEUED_KEYS_KEPT:
            self._requeued.clear()  # forgotten keys are only counted once more
        self._requeued.add(key)
        return outcome

    def _database_away(self, error: SQLAlchemyError) -> IngressOutcome:
        """Wait for the database: the message goes back to the queue after a pause that
        grows while the outage lasts (logged once, when it starts and when it ends)."""
        return IngressOutcome(
            Verdict.RETRY_LATER, "database unavailable", pause_s=self._database.failed(error)
        )

    def _forget(self, key: str) -> None:
        try:
            self._attempts.settled(key)
        except SQLAlchemyError as exc:  # the row is swept after its retention
            log.warning("ingress.delivery_count_kept", error=type(exc).__name__)

    def handle(self, body: bytes, user_id: str | None, message_id: str | None) -> IngressOutcome:
        """Accept one published envelope, or dead-letter it with the reason."""
        if len(body) > MAX_ENVELOPE_BYTES:
            return self._dead_letter(
                body,
                f"body of {len(body)} bytes is over the limit of {MAX_ENVELOPE_BYTES}",
                message_id,
                None,
            )
        try:
            with self._db.transaction() as session:
                response = self._accept(session, body, user_id)
        except _Undeliverable as undeliverable:
            return self._dead_letter(
                body,
                undeliverable.reason,
                message_id,
                undeliverable.organisation_id,
                refused=undeliverable.refused,
            )
        except KeyInProgress:
            return IngressOutcome(Verdict.RETRY_LATER, "idempotency key in progress")
        except (OperationalError, InterfaceError, PoolTimeoutError) as exc:
            return self._database_away(exc)
        except SQLAlchemyError as exc:
            # The message cannot be stored as it is (bad data): retrying cannot help.
            return self._dead_letter(body, f"not storable: {type(exc).__name__}", message_id, None)
        except Exception as exc:
            # Whatever else one message raises stops only that message.
            log.error("ingress.unexpected_error", error=type(exc).__name__)
            return self._dead_letter(
                body, f"unexpected error: {type(exc).__name__}", message_id, None
            )
        if "command_id" in response.body:
            log.info(
                "command.accepted",
                source="amqp",
                command_id=response.body["command_id"],
                replayed=response.replayed,
            )
        else:
            log.info(
                "bulk.accepted",
                source="amqp",
                count=response.body["count"],
                replayed=response.replayed,
            )
        return IngressOutcome(Verdict.ACCEPTED)

    def _accept(self, session: Session, body: bytes, user_id: str | None) -> Response:
        if not user_id:
            raise _Undeliverable("unauthorised: the message has no user_id property")
        organisation_id = session.scalar(
            select(Organisation.id).where(Organisation.amqp_user == user_id)
        )
        if organisation_id is None:
            raise _Undeliverable(f"unauthorised: no organisation for AMQP user {user_id!r}")
        try:
            response = accept_envelope(
                session,
                organisation_id=organisation_id,
                body=body,
                source="amqp",
                retention=self._retention,
            )
        except EnvelopeRefused as refused:
            raise _Undeliverable(refused.reason, organisation_id, refused) from None
        record_bulk_item_refusals(session, organisation_id, response, "amqp")
        return response

    def _dead_letter(
        self,
        body: bytes,
        reason: str,
        message_id: str | None,
        organisation_id: UUID | None,
        *,
        refused: EnvelopeRefused | None = None,
    ) -> IngressOutcome:
        """Record the message as a dead letter; a refused envelope of a known organisation
        also as a refusal its publisher can find, in the same transaction."""
        try:
            with self._db.transaction() as session:
                letter = record_dead_letter(
                    session,
                    source="ingress",
                    queue=self._queue,
                    reason=reason,
                    body=body,
                    message_id=message_id,
                    organisation_id=organisation_id,
                )
                if refused is not None and organisation_id is not None:
                    record_refusal(
                        session,
                        organisation_id=organisation_id,
                        refused=refused,
                        source="amqp",
                        message_id=message_id,
                        dead_letter_id=letter.id,
                    )
        except (OperationalError, InterfaceError, PoolTimeoutError) as exc:
            return self._database_away(exc)
        except SQLAlchemyError as exc:
            # Something of this message cannot be stored: keep the body alone, or it
            # would come back for ever.
            log.error("ingress.dead_letter_not_storable", error=type(exc).__name__)
            return self._bare_dead_letter(body, f"{reason!a}", type(exc).__name__)
        log.warning("ingress.dead_lettered", reason=reason, message_id=message_id)
        return IngressOutcome(Verdict.DEAD_LETTERED, reason)

    def _bare_dead_letter(self, body: bytes, reason: str, error: str) -> IngressOutcome:
        """The body as a dead letter with an ASCII reason, nothing else of the message."""
        reason = f"{reason} (its refusal could not be stored: {error})"
        try:
            with self._db.transaction() as session:
                record_dead_letter(
                    session, source="ingress", queue=self._queue, reason=reason, body=body
                )
        except SQLAlchemyError as exc:
            return self._database_away(exc)
        return IngressOutcome(Verdict.DEAD_LETTERED, reason)

    def consume(self, broker_url: str, stop: threading.Event, *, prefetch: int = 50) -> None:
        """Consume until ``stop`` is set, whatever fails meanwhile: a lost connection is
        opened again with a growing pause between tries, a database that is away sends
        each message back to wait; each outage is logged once, when it starts and ends."""
        allow_any_amqp_headers()
        broker = Outage("broker", loop="ingress")
        while not stop.is_set():
            try:
                connection = pika.BlockingConnection(pika.URLParameters(broker_url))
            except _BROKER_ERRORS as exc:
                stop.wait(broker.failed(exc, detail=str(exc) or repr(exc)))
                continue
            try:
                channel = connection.channel()
                channel.queue_declare(self._queue, durable=True)
                # Publishers write to this exchange: the default one would let them write
                # to every queue (RabbitMQ checks write permission on the exchange only).
                channel.exchange_declare(self._exchange, exchange_type="fanout", durable=True)
                channel.queue_bind(self._queue, self._exchange)
                channel.basic_qos(prefetch_count=prefetch)
                broker.restored()
                log.info("ingress.consuming", queue=self._queue)
                self._consume_channel(channel, stop)
            except _BROKER_ERRORS as exc:
                stop.wait(broker.failed(exc, detail=str(exc) or repr(exc)))
            except Exception:  # a bug: said loudly, and the ingress consumes again
                log.exception("ingress.consumer_failed")
                stop.wait(UNEXPECTED_FAILURE_PAUSE_S)
            finally:
                with suppress(*_BROKER_ERRORS):
                    if connection.is_open:
                        connection.close()

    def _consume_channel(self, channel: BlockingChannel, stop: threading.Event) -> None:
        for method, properties, body in channel.consume(self._queue, inactivity_timeout=0.5):
            if stop.is_set():
                break
            if method is None:
                continue
            delivery = Delivery(
                body=body,
                user_id=_text(properties.user_id),
                message_id=_text(properties.message_id),
                redelivered=bool(method.redelivered),
                content_type=properties.content_type,
                content_encoding=properties.content_encoding,
            )
            try:
                outcome = self.receive(delivery)
            except Exception as exc:  # the dead-letter path itself failed: wait, and retry
                log.error("ingress.unexpected_error", error=type(exc).__name__)
                unexpected = IngressOutcome(Verdict.RETRY_LATER, "unexpected error")
                outcome = self._wait(delivery.key, unexpected)
            if outcome.verdict is Verdict.RETRY_LATER:
                stop.wait(outcome.pause_s)
                channel.basic_nack(method.delivery_tag, requeue=True)
            else:
                channel.basic_ack(method.delivery_tag)
        channel.cancel()


def _text(value: object) -> str | None:
    """A short-string property as text; pika leaves one that is not UTF-8 as bytes."""
    return value if isinstance(value, str) and value else None


def accept_envelope(
    session: Session,
    *,
    organisation_id: UUID,
    body: bytes | str,
    source: Source,
    retention: timedelta,
) -> Response:
    """Validate a command envelope, or a bulk one (it has ``application_ids``), and accept
    its command(s), once per idempotency key.

    Raises EnvelopeRefused, with its code and each bad field, when the envelope is invalid,
    names an unknown command type, or its key was used for another command; KeyInProgress
    when the key is being accepted now.
    """
    if _is_bulk(body):
        return _accept_bulk(session, organisation_id, body, source, retention)
    try:
        envelope = CommandEnvelope.model_validate_json(body)
    except ValidationError as exc:
        raise invalid_envelope(exc.errors(), bulk=False, body=body) from None
    try:
        return accept_command(
            session,
            organisation_id=organisation_id,
            idempotency_key=envelope.idempotency_key,
            command=envelope.command,
            source=source,
            retention=retention,
        )
    except KeyReused:
        raise key_reused(
            envelope.idempotency_key, "idempotency_key was already used for a different command"
        ) from None


def _is_bulk(body: bytes | str) -> bool:
    try:
        # pydantic's parser, as the envelope's validation: its nesting has a limit.
        raw = from_json(body)
    except ValueError:
        return False  # the envelope's own validation names the problem
    return isinstance(raw, dict) and "application_ids" in raw


def _accept_bulk(
    session: Session,
    organisation_id: UUID,
    body: bytes | str,
    source: Source,
    retention: timedelta,
) -> Response:
    try:
        envelope = BulkCommandEnvelope.model_validate_json(body)
    except ValidationError as exc:
        raise invalid_envelope(exc.errors(), bulk=True, body=body) from None
    try:
        return accept_bulk(
            session,
            organisation_id=organisation_id,
            idempotency_key=envelope.idempotency_key,
            command=envelope.command,
            application_ids=envelope.application_ids,
            retention=retention,
            source=source,
        )
    except InvalidBulkCommandError as invalid:
        raise invalid_envelope(
            invalid.errors, bulk=True, body=body, key=envelope.idempotency_key
        ) from None
    except KeyReused:
        raise key_reused(
            envelope.idempotency_key, "idempotency_key was already used for a different bulk"
        ) from None
