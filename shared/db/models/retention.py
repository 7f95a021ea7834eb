"""AVG retention: each organisation's policy, and each applicant's talent-pool consent."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base
from shared.db.types import UTCDateTime, utcnow


class RetentionPolicy(Base):
    """How long an organisation keeps applicants. No row: the defaults
    (``shared.retention.policy.DEFAULT_POLICY``)."""

    __tablename__ = "retention_policies"

    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    purge_after_weeks: Mapped[int]
    consent_months: Mapped[int]
    reminder_days: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TalentPoolConsent(Base):
    """The applicant agreed to stay in the talent pool until ``expires_at``.

    Given when an application is saved; extended by the applicant through the link of
    the reminder email (``token_hash``: the link's SHA-256, never the token). Erased
    with the applicant.
    """

    __tablename__ = "talent_pool_consents"

    applicant_id: Mapped[UUID] = mapped_column(ForeignKey("applicants.id"), primary_key=True)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    extended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
