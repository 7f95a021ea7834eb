"""Moved to :mod:`shared.emails.formatting`, which the command API shares; re-exported here so
mail_worker code that still imports it from this module keeps working."""

from __future__ import annotations

from shared.emails.formatting import (
    DEFAULT_TIMEZONE,
    SalaryPeriod,
    Style,
    format_date,
    format_datetime,
    format_duration,
    format_money,
    format_names,
    format_salary,
)

__all__ = [
    "DEFAULT_TIMEZONE",
    "SalaryPeriod",
    "Style",
    "format_date",
    "format_datetime",
    "format_duration",
    "format_money",
    "format_names",
    "format_salary",
]
