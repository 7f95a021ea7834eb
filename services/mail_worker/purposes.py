"""Moved to :mod:`shared.emails.purposes`, which the command API shares; re-exported here so
mail_worker code that still imports it from this module keeps working."""

from __future__ import annotations

from shared.emails.purposes import (
    IDENTIFYING_VARIABLES,
    PURPOSES,
    VARIABLES,
    MissingVariables,
    Purpose,
    allowed_variables,
    require_context,
    sample_context,
)

__all__ = [
    "IDENTIFYING_VARIABLES",
    "PURPOSES",
    "VARIABLES",
    "MissingVariables",
    "Purpose",
    "allowed_variables",
    "require_context",
    "sample_context",
]
