"""Error classes that decide between retrying, refusing and dead-lettering."""

from __future__ import annotations

from enum import StrEnum

import dramatiq


class RefusalCode(StrEnum):
    """Machine-readable reasons a business rule said no. Refusals never retry."""

    INVALID_TRANSITION = "invalid_transition"
    NOT_FOUND = "not_found"
    VERSION_CONFLICT = "version_conflict"
    DELETED = "deleted"
    ALREADY_APPLIED = "already_applied"
    VACANCY_CLOSED = "vacancy_closed"
    UNKNOWN_REASON = "unknown_reason"
    OFFER_EXPIRED = "offer_expired"
    UNKNOWN_TEMPLATE = "unknown_template"
    UNKNOWN_DOCUMENT = "unknown_document"
    MIXED_VACANCIES = "mixed_vacancies"
    REVIEW_CLOSED = "review_closed"
    REVIEWER_REVOKED = "reviewer_revoked"
    # A purge by retention whose application is no longer due when it runs.
    NOT_DUE = "not_due"


class EnvelopeRefusalCode(StrEnum):
    """Why the AMQP ingress refused an envelope before it became a command."""

    INVALID_ENVELOPE = "invalid_envelope"
    UNKNOWN_COMMAND_TYPE = "unknown_command_type"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    INVALID_BULK = "invalid_bulk"


class PermanentError(Exception):
    """Retrying cannot help: the message is failed at once and dead-lettered."""


class TransientError(Exception):
    """A dependency hiccup: retried with backoff up to the actor's limit."""


class UnavailableError(TransientError):
    """A dependency could not be reached at all (an SMTP server refusing connections):
    retried with backoff for as long as the outage lasts, up to about a day, beyond the
    actor's usual retries (``shared.messaging.retries``). A database that is away is
    recognised from its own errors (``shared.db.availability``)."""


class RetryLater(dramatiq.Retry):
    """Not yet: the work is in someone else's hands until a known time (an email another
    worker is sending, under its lease). The message is retried after ``delay_ms``, as
    one of its retries, and is not acknowledged as done."""

    def __init__(self, message: str, *, delay_ms: int) -> None:
        super().__init__(message, delay=delay_ms)


class Refused(Exception):  # noqa: N818 - a refusal is an outcome, not an error condition
    """A business rule refused the command; recorded as a ``rejected`` outcome."""

    def __init__(self, code: RefusalCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
