"""An organisation's retention policy, with the defaults of the Dutch data protection
authority's guidance: four weeks after the procedure, a year with consent."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from sqlalchemy.orm import Session

from shared.db.models import RetentionPolicy

# Whom a purge by retention is accepted from: the source of its command.
RETENTION_SOURCE: Final = "retention"


@dataclass(frozen=True, slots=True)
class Policy:
    enabled: bool = True
    purge_after_weeks: int = 4
    consent_months: int = 12
    reminder_days: int = 30

    @property
    def keep_after_end(self) -> timedelta:
        return timedelta(weeks=self.purge_after_weeks)

    def consent_until(self, start: datetime) -> datetime:
        return add_months(start, self.consent_months)


DEFAULT_POLICY: Final = Policy()


def policy_of(session: Session, organisation_id: UUID) -> Policy:
    row = session.get(RetentionPolicy, organisation_id)
    if row is None:
        return DEFAULT_POLICY
    return Policy(
        enabled=row.enabled,
        purge_after_weeks=row.purge_after_weeks,
        consent_months=row.consent_months,
        reminder_days=row.reminder_days,
    )


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` so many calendar months later, on the month's last day when the day
    does not exist there (31 January + 1 month = 28 or 29 February)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(
        year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1])
    )
