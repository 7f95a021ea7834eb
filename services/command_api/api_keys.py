"""Organisations' API keys: shown once, stored as a hash, carrying scopes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.command_api.default_reasons import DEFAULT_REJECTION_REASONS
from shared.db.models import ApiKey, Organisation, RejectionReason
from shared.db.types import utcnow

PREFIX = "wv"


class Scope(StrEnum):
    COMMANDS_WRITE = "commands:write"
    COMMANDS_READ = "commands:read"
    APPLICATIONS_READ = "applications:read"
    VACANCIES_READ = "vacancies:read"
    VACANCIES_WRITE = "vacancies:write"
    REFERENCE_READ = "reference:read"
    REFERENCE_WRITE = "reference:write"
    EMPLOYEES_READ = "employees:read"
    # The careers portal: set a candidate's password with a one-time link, log in.
    CANDIDATE_AUTH = "candidate_auth"
    TEMPLATES_READ = "templates:read"
    TEMPLATES_WRITE = "templates:write"
    # Stored documents (contracts, letters, profiles) and the assets they show (a logo).
    DOCUMENTS_READ = "documents:read"
    DOCUMENTS_WRITE = "documents:write"
    # AVG retention: the policy and its dry-run.
    RETENTION_READ = "retention:read"
    RETENTION_WRITE = "retention:write"


ALL_SCOPES = tuple(Scope)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, as proven by its key. Every query is scoped to ``organisation_id``."""

    organisation_id: UUID
    key_id: str
    scopes: frozenset[str]


def _hash(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(secret.encode()).hexdigest()


def create_organisation(
    session: Session,
    name: str,
    *,
    default_locale: str = "nl",
    amqp_user: str | None = None,
    sender_email: str | None = None,
    sender_name: str | None = None,
) -> Organisation:
    """Store a new organisation with the default rejection reasons, which it may extend."""
    organisation = Organisation(
        name=name,
        default_locale=default_locale,
        amqp_user=amqp_user,
        sender_email=sender_email,
        sender_name=sender_name,
    )
    session.add(organisation)
    session.flush()
    session.add_all(
        RejectionReason(
            organisation_id=organisation.id,
            rejection_type=reason.rejection_type,
            label_nl=reason.label_nl,
            label_en=reason.label_en,
        )
        for reason in DEFAULT_REJECTION_REASONS
    )
    session.flush()
    return organisation


def create_api_key(
    session: Session, organisation_id: UUID, scopes: list[Scope], name: str = "default"
) -> str:
    """Store a new key and return it in full; this is the only time it is visible."""
    if session.get(Organisation, organisation_id) is None:
        raise LookupError(f"organisation {organisation_id} not found")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            organisation_id=organisation_id,
            key_id=key_id,
            secret_hash=_hash(secret),
            name=name,
            scopes=sorted(s.value for s in scopes),
        )
    )
    return f"{PREFIX}_{key_id}_{secret}"


def list_api_keys(session: Session, organisation_id: UUID) -> list[ApiKey]:
    """The organisation's keys, oldest first: ids, names, scopes, dates (never a secret)."""
    return list(
        session.scalars(
            select(ApiKey)
            .where(ApiKey.organisation_id == organisation_id)
            .order_by(ApiKey.created_at, ApiKey.key_id)
        )
    )


def revoke_api_key(session: Session, organisation_id: UUID, key_id: str) -> ApiKey:
    """Revoke the key at once: the next request that presents it gets 401. Revoking a
    revoked key keeps its first ``revoked_at``. LookupError when the organisation has no
    such key."""
    key = session.scalar(
        select(ApiKey)
        .where(ApiKey.organisation_id == organisation_id, ApiKey.key_id == key_id)
        .with_for_update()
    )
    if key is None:
        raise LookupError(f"organisation {organisation_id} has no key {key_id!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def authenticate(session: Session, presented: str) -> Principal | None:
    prefix, _, rest = presented.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not key_id or not secret:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, _hash(secret)):
        return None
    return Principal(
        organisation_id=key.organisation_id, key_id=key_id, scopes=frozenset(key.scopes)
    )
