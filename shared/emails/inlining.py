"""CSS inlining for email HTML, bounded before it runs.

css_inline copies every matching declaration of the ``<style>`` rules into each element's
``style`` attribute, one declaration per property. So the HTML it writes is at most as
long as the HTML it reads, plus, for every element, the longest declaration of every
property the stylesheets name. That bound is computed first (tinycss2 reads the
stylesheets, css_inline is not run at all past it): a template with thousands of elements
and a stylesheet of many long properties is refused instead of being multiplied out.
css_inline fetches nothing (``load_remote_stylesheets=False`` also stops ``file:`` and
local paths in ``<link>``) and drops the ``<style>`` and ``<link>`` tags.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any, Final

import css_inline
import tinycss2

from shared.emails.template_set import TemplatePartProblem

# What css_inline may write for an email: about 15 bytes of memory a character.
MAX_INLINED_CHARS: Final = 300_000
INLINER: Final = css_inline.CSSInliner(load_remote_stylesheets=False)

# A style element's text runs to its end tag (or the end), as an HTML parser reads it.
_STYLE: Final = re.compile(r"<style\b[^>]*>(.*?)(?:</style(?=[\s/>])|\Z)", re.I | re.S)
_START_TAG: Final = re.compile(r"<[a-z]", re.I)
# A cell, row or column outside its table part makes the parser add up to two elements.
_IMPLYING: Final = re.compile(r"<(?:t[dhr]|col)\b", re.I)
# ": ", ";" and " !important" around a declaration's name and value.
_DECLARATION_EXTRA: Final = 16
# The most characters one CSS escape (``\000041 ``) stands for in the source.
_ESCAPE: Final = 8
_CACHED_CSS_CHARS: Final = 16 * 1024


def _declarations(rules: Iterable[Any]) -> Iterator[Any]:
    for rule in rules:
        if rule.type == "qualified-rule":
            yield from tinycss2.parse_declaration_list(rule.content)
        elif rule.type == "at-rule" and rule.content is not None:
            yield from _declarations(tinycss2.parse_rule_list(rule.content))


def _per_element(css: str) -> int:
    """At least what inlining ``css`` can add to one element's ``style`` attribute."""
    # An organisation's stylesheet is the same in every email: measured once (a cache of
    # small ones only, so that what it keeps stays small).
    if len(css) <= _CACHED_CSS_CHARS:
        return _cached_per_element(css)
    return _measured(css)


@lru_cache(maxsize=128)
def _cached_per_element(css: str) -> int:
    return _measured(css)


def _measured(css: str) -> int:
    longest: dict[str, int] = {}
    every = 0
    for declaration in _declarations(tinycss2.parse_stylesheet(css)):
        if declaration.type != "declaration":
            continue
        size = len(declaration.name) + len(tinycss2.serialize(declaration.value))
        size += _DECLARATION_EXTRA
        longest[declaration.name] = max(longest.get(declaration.name, 0), size)
        every += size
    if "\\" in css:  # escapes read shorter than they are written, and may hide a name
        return every + _ESCAPE * css.count("\\")
    return sum(longest.values())


def inlined_size(html: str) -> int:
    """At least the length of ``html`` with its stylesheets inlined."""
    css = "".join(match.group(1) for match in _STYLE.finditer(html))
    if not css.strip():
        return len(html)
    elements = len(_START_TAG.findall(html)) + 2 * len(_IMPLYING.findall(html)) + 3
    return len(html) + elements * _per_element(css)


def inlined(html: str) -> str:
    """``html`` (an email's HTML part) with its ``<style>`` rules inlined; refused with a
    :class:`TemplatePartProblem` for ``html`` when that could pass the limit."""
    estimate = inlined_size(html)
    if estimate > MAX_INLINED_CHARS:
        raise TemplatePartProblem(
            "html",
            f"inlining its CSS could make the HTML longer than {MAX_INLINED_CHARS} characters"
            f" (up to {estimate}): fewer elements, or fewer and shorter style properties",
        )
    try:
        return INLINER.inline(html)
    except css_inline.InlineError as exc:
        raise TemplatePartProblem("html", f"the CSS could not be inlined: {exc}") from None
