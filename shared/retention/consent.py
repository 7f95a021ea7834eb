"""Talent-pool consent: given when an application is saved, asked to be extended by
email before it ends, extended through the email's link, or left to lapse."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import TalentPoolConsent
from shared.retention.policy import Policy, policy_of
from shared.tokens import hash_token


def give_consent(
    session: Session, organisation_id: UUID, applicant_id: UUID, now: datetime
) -> TalentPoolConsent:
    """The applicant's consent, given now for the policy's months unless one runs."""
    consent = session.get(TalentPoolConsent, applicant_id, with_for_update=True)
    if consent is not None:  # the applicant is the organisation's (the caller's lock)
        if consent.expires_at > now:
            return consent
        session.delete(consent)  # lapsed (the sweep had not got to it): a new one
        session.flush()
    consent = TalentPoolConsent(
        applicant_id=applicant_id,
        organisation_id=organisation_id,
        given_at=now,
        expires_at=policy_of(session, organisation_id).consent_until(now),
    )
    session.add(consent)
    return consent


def extend_consent(consent: TalentPoolConsent, policy: Policy, now: datetime) -> None:
    """Another ``consent_months`` from now (or from the end, if that is later); the link
    that asked is used up, and the next reminder comes before the new end."""
    consent.expires_at = policy.consent_until(max(now, consent.expires_at))
    consent.extended_at = now
    consent.reminded_at = None
    consent.token_hash = None


def consent_by_token(session: Session, token: str, now: datetime) -> TalentPoolConsent | None:
    """The consent a reminder's link is for, while it runs; locked."""
    consent = session.scalar(
        select(TalentPoolConsent)
        .where(TalentPoolConsent.token_hash == hash_token(token))
        .with_for_update()
    )
    return consent if consent is not None and consent.expires_at > now else None


def due_reminders(
    session: Session,
    organisation_id: UUID,
    policy: Policy,
    now: datetime,
    *,
    limit: int = 500,
    lock: bool = True,
) -> list[TalentPoolConsent]:
    """Consents that end within ``reminder_days`` and were not asked about yet; with
    ``lock``, locked, skipping those another sweep holds."""
    if not policy.enabled:
        return []
    query = (
        select(TalentPoolConsent)
        .where(
            TalentPoolConsent.organisation_id == organisation_id,
            TalentPoolConsent.reminded_at.is_(None),
            TalentPoolConsent.expires_at > now,
            TalentPoolConsent.expires_at <= now + timedelta(days=policy.reminder_days),
        )
        .order_by(TalentPoolConsent.expires_at)
        .limit(limit)
    )
    return list(session.scalars(query.with_for_update(skip_locked=True) if lock else query))
