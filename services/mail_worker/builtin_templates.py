"""Moved to :mod:`shared.emails.builtin`, which the command API shares; re-exported here so
mail_worker code that still imports it from this module keeps working."""

from __future__ import annotations

from shared.emails.builtin import (
    builtin_template_set,
)

__all__ = [
    "builtin_template_set",
]
