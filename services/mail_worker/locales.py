"""Moved to :mod:`shared.emails.locales`, which the command API shares; re-exported here so
mail_worker code that still imports it from this module keeps working."""

from __future__ import annotations

from shared.emails.locales import (
    BABEL_LOCALES,
    LOCALES,
    Locale,
    babel_locale,
)

__all__ = [
    "BABEL_LOCALES",
    "LOCALES",
    "Locale",
    "babel_locale",
]
