"""Locale-aware values for email variables: moments, days, money, durations, names.

Every value reaches a template as a finished string, formatted here with Babel (CLDR) for
``nl`` or ``en``, so templates never format anything themselves. Moments are shown in the
organisation's timezone; a naive datetime is refused because its meaning is a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Final, Literal
from zoneinfo import ZoneInfo

from babel import Locale as BabelLocale
from babel import dates as babel_dates
from babel import lists as babel_lists
from babel import numbers as babel_numbers
from babel import units as babel_units

from shared.emails.locales import Locale, babel_locale

DEFAULT_TIMEZONE: Final = "Europe/Amsterdam"

Style = Literal["full", "long", "medium", "short"]
SalaryPeriod = Literal["hour", "month", "year"]

_PER_PERIOD: Final[dict[Locale, dict[SalaryPeriod, str]]] = {
    "nl": {"hour": "per uur", "month": "per maand", "year": "per jaar"},
    "en": {"hour": "per hour", "month": "per month", "year": "per year"},
}


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a naive datetime has no timezone; pass an aware datetime")
    return moment


def format_datetime(
    moment: datetime,
    locale: Locale,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    style: Style = "full",
) -> str:
    """The day in ``style`` and the time as hours and minutes, in ``timezone``.

    ``full`` in Dutch: "maandag 9 maart 2026, 14:30"; in English: "Monday, 9 March 2026, 14:30".
    """
    babel = babel_locale(locale)
    local = _aware(moment).astimezone(ZoneInfo(timezone))
    day = babel_dates.format_date(local, style, locale=babel)
    time = babel_dates.format_time(local, "short", locale=babel)
    pattern = BabelLocale.parse(babel).datetime_formats[style]
    return str(pattern).replace("{1}", day).replace("{0}", time)


def format_date(
    day: date,
    locale: Locale,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    style: Style = "long",
) -> str:
    """A calendar day: "9 maart 2026" / "9 March 2026" (``long``). A datetime is first moved
    into ``timezone``, so 23:30 UTC is the next day in Amsterdam."""
    if isinstance(day, datetime):
        day = _aware(day).astimezone(ZoneInfo(timezone)).date()
    return babel_dates.format_date(day, style, locale=babel_locale(locale))


def format_money(amount: Decimal | int, locale: Locale, *, currency: str = "EUR") -> str:
    """An amount with its currency: "€ 3.500,00" in Dutch, "€3,500.00" in English."""
    return babel_numbers.format_currency(amount, currency, locale=babel_locale(locale))


def format_salary(
    amount: Decimal | int, currency: str, period: SalaryPeriod, locale: Locale
) -> str:
    """A salary with its period: "€ 3.500,00 per maand" / "€3,500.00 per month"."""
    return f"{format_money(amount, locale, currency=currency)} {_PER_PERIOD[locale][period]}"


def format_duration(minutes: int, locale: Locale) -> str:
    """A length of time in whole hours and minutes: "1 uur en 30 minuten", "45 minutes"."""
    if minutes < 0:
        raise ValueError("a duration cannot be negative")
    babel = babel_locale(locale)
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(babel_units.format_unit(hours, "duration-hour", locale=babel))
    if rest or not hours:
        parts.append(babel_units.format_unit(rest, "duration-minute", locale=babel))
    return babel_lists.format_list(parts, locale=babel)


def format_names(names: Sequence[str], locale: Locale) -> str:
    """People in a sentence: "Piet, Marie en Ahmed" / "Piet, Marie and Ahmed"."""
    return babel_lists.format_list(list(names), locale=babel_locale(locale))
