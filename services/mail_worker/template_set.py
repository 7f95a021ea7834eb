"""Moved to :mod:`shared.emails.template_set`, which the command API shares; re-exported here so
mail_worker code that still imports it from this module keeps working."""

from __future__ import annotations

from shared.emails.template_set import (
    PARTS,
    Part,
    TemplatePartProblem,
    TemplateSet,
)

__all__ = [
    "PARTS",
    "Part",
    "TemplatePartProblem",
    "TemplateSet",
]
