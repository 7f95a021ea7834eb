"""Moved to :mod:`shared.emails.rendering`, which the command API shares; re-exported here so
mail_worker code that still imports it from this module keeps working."""

from __future__ import annotations

from shared.emails.rendering import (
    MAX_SUBJECT_CHARS,
    RenderedEmail,
    check_template_set,
    preview_email,
    render_email,
)

__all__ = [
    "MAX_SUBJECT_CHARS",
    "RenderedEmail",
    "check_template_set",
    "preview_email",
    "render_email",
]
