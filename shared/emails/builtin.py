"""The built-in templates, shipped as package data under ``templates/<purpose>/``.

Each purpose has ``<locale>.subject.j2``, ``<locale>.txt.j2`` and ``<locale>.html.j2`` for
every locale. They are plain Jinja2 and go through the same sandbox as an organisation's
templates; an organisation can download one as the starting point for its own.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from shared.emails.locales import LOCALES, Locale
from shared.emails.purposes import PURPOSES, Purpose
from shared.emails.template_set import TemplateSet

_TEMPLATES = files("shared.emails").joinpath("templates")


@cache
def builtin_template_set(purpose: Purpose, locale: Locale) -> TemplateSet:
    """The built-in sources for ``purpose`` in ``locale`` (read once, then cached)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown email purpose {purpose!r}")
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}; expected one of {LOCALES}")
    folder = _TEMPLATES.joinpath(purpose)
    return TemplateSet(
        subject=folder.joinpath(f"{locale}.subject.j2").read_text(encoding="utf-8"),
        text=folder.joinpath(f"{locale}.txt.j2").read_text(encoding="utf-8"),
        html=folder.joinpath(f"{locale}.html.j2").read_text(encoding="utf-8"),
    )
