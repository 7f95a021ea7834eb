"""The languages werving writes emails in, and the Babel locale each one is formatted with."""

from __future__ import annotations

from typing import Final, Literal, get_args

Locale = Literal["nl", "en"]
LOCALES: Final[tuple[Locale, ...]] = get_args(Locale)

# English is formatted the British way (24-hour clock, "9 March 2026", "€3,500.00"): the
# organisations are Dutch, and a 12-hour clock or month-first dates would read oddly.
BABEL_LOCALES: Final[dict[Locale, str]] = {"nl": "nl_NL", "en": "en_GB"}


def babel_locale(locale: Locale) -> str:
    """The Babel locale for one of werving's languages; anything else is refused."""
    try:
        return BABEL_LOCALES[locale]
    except KeyError:
        raise ValueError(f"unsupported locale {locale!r}; expected one of {LOCALES}") from None
