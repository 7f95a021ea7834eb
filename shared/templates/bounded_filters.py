"""Jinja2's filters and tests, each bounded: the environment holds only these.

Every filter counts as an operation, refuses an input larger than it can handle cheaply,
checks the size of what it will build *before* building it where that can grow past its
input (``center``, ``indent``, ``replace``, ``join``, ``format``, ``wordwrap``, ``batch``
...), and charges what it built to the render's budget. Filters that hand back a
generator (``map``, ``select``, ``batch`` ...) charge each item as it is taken. ``map``,
``select`` and ``sort(attribute=...)`` reach other filters and tests through the
environment, so through these. ``pprint``, ``random``, ``xmlattr`` and ``safe`` are left
out: an email has no use for them, and ``safe`` would let a value's markup through.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sized
from types import MappingProxyType
from typing import Any, Final, cast

from jinja2 import Environment, pass_environment, pass_eval_context
from jinja2.filters import FILTERS
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.tests import TESTS
from markupsafe import Markup, escape

from shared.templates.budget import check_chars, check_items, current
from shared.templates.formats import printf_size
from shared.templates.limits import (
    MAX_URLIZE_CHARS,
    MAX_VALUE_CHARS,
    MAX_WORDWRAP_CHARS,
    MAX_WORDWRAP_LINES,
)
from shared.templates.problems import TemplateProblem
from shared.templates.sizes import (
    ESCAPE_FACTOR,
    bytes_of,
    escaped_size,
    joined_size,
    line_count,
    text_size,
)

LEFT_OUT: Final = frozenset({"pprint", "random", "xmlattr", "safe"})
# Filters that turn their input, a text included, into a list of its items.
_LISTING: Final = frozenset({"list", "sort", "unique", "dictsort", "groupby", "batch", "slice"})
# Filters that take a collection or a number as it is, without writing it as text (the
# others may: upper() of a list is the upper() of its text).
_NOT_TEXT: Final = frozenset(
    {
        *_LISTING,
        *("abs", "attr", "count", "d", "default", "first", "float", "int", "items"),
        *("join", "last", "length", "map", "max", "min", "reject", "rejectattr"),
        *("reverse", "round", "select", "selectattr", "sum", "filesizeformat"),
    }
)
# Filters whose work or output grows faster than their input: how much input they take.
_INPUT_LIMITS: Final = MappingProxyType(
    {
        "urlize": MAX_URLIZE_CHARS,
        "title": MAX_VALUE_CHARS // 2,  # splits into words first: ~65 bytes per word
        "tojson": MAX_VALUE_CHARS // 12,  # \ud83d\ude00: 12 characters for one
        "urlencode": MAX_VALUE_CHARS // 12,  # %F0%9F%98%80
    }
)
_PASSED: Final = (Context, EvalContext, Environment)

Filter = Callable[..., Any]


def _metered(items: Iterable[Any]) -> Iterator[Any]:
    """``items``, each charged (an operation and its bytes) as it is taken."""
    budget = current()
    for item in items:
        budget.operation()
        budget.spend(bytes_of(item))
        yield item


def _settled(result: Any, what: str) -> Any:
    if not isinstance(result, str | list | tuple | dict) and isinstance(result, Iterator):
        return _metered(result)
    return current().built_value(result, what)


def _input_size(value: Any, limit: int, what: str) -> None:
    if isinstance(value, str):
        size = len(value)
    elif isinstance(value, int | float | bool) or value is None:
        return
    else:
        size = text_size(value)
    if size > limit:
        raise TemplateProblem(f"{what} takes at most {limit} characters")


def _value_of(args: tuple[Any, ...]) -> Any:
    """The filtered value: the first argument after the context or environment that
    Jinja2 passes first to some filters."""
    start = 1 if args and isinstance(args[0], _PASSED) else 0
    return args[start] if len(args) > start else None


def _bounded(name: str, original: Filter) -> Filter:
    """``original`` with the checks every filter gets: an operation, an input limit
    (items for a listing filter), and the result charged."""
    what = f"the '{name}' filter"
    limit = _INPUT_LIMITS.get(name, MAX_VALUE_CHARS)
    listing = name in _LISTING
    text = name not in _NOT_TEXT

    @functools.wraps(original)  # keeps Jinja2's pass_context / pass_eval_context mark
    def bounded(*args: Any, **kwargs: Any) -> Any:
        current().operation()
        value = _value_of(args)
        if listing and isinstance(value, str | Sized):
            check_items(len(value), what)
        elif text or isinstance(value, str):
            _input_size(value, limit, what)
        return _settled(original(*args, **kwargs), what)

    return bounded


def _width(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _center(value: Any, width: int = 80) -> str:
    check_chars(max(text_size(value), _width(width)), "the 'center' filter")
    return FILTERS["center"](value, width)  # type: ignore[no-any-return]


def _indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    size = text_size(s)
    lines = line_count(s) if isinstance(s, str) else size + 2
    step = len(width) if isinstance(width, str) else _width(width)
    check_chars(size + lines * (step + 1), "the 'indent' filter")
    return FILTERS["indent"](s, width, first, blank)  # type: ignore[no-any-return]


@pass_eval_context
def _replace(eval_ctx: EvalContext, s: Any, old: Any, new: Any, count: int | None = None) -> str:
    what = "the 'replace' filter"
    _input_size(s, MAX_VALUE_CHARS, what)
    # Whichever way Jinja2 escapes (or not) the text and its arguments: the most.
    texts = [str(s), str(escape(s))] if eval_ctx.autoescape else [str(s)]
    olds = {str(old), str(escape(old))} if eval_ctx.autoescape else {str(old)}
    longest_new = max(len(str(new)), escaped_size(new) if eval_ctx.autoescape else 0)
    estimate = 0
    for text in texts:
        found = max(text.count(o) if o else len(text) + 1 for o in olds)
        if count is not None and count >= 0:
            found = min(found, count)
        estimate = max(estimate, len(text) + found * longest_new)
    check_chars(estimate, what)
    return FILTERS["replace"](eval_ctx, s, old, new, count)  # type: ignore[no-any-return]


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    what = "the 'format' filter"
    _input_size(value, MAX_VALUE_CHARS, what)
    template = str(value)
    check_chars(printf_size(template, kwargs or args, escaping=isinstance(value, Markup)), what)
    return FILTERS["format"](value, *args, **kwargs)  # type: ignore[no-any-return]


@pass_eval_context
def _join(eval_ctx: EvalContext, value: Any, d: Any = "", attribute: Any = None) -> str:
    what = "the 'join' filter"
    if attribute is not None:
        raise TemplateProblem("join(attribute=...) is not available in a template")
    if isinstance(value, Sized):
        check_items(len(value), what)
    items = list(value)
    check_items(len(items), what)
    separators = [d] * max(len(items) - 1, 0)
    escaping = bool(eval_ctx.autoescape)
    check_chars(joined_size([*items, *separators], escaping=escaping, limit=MAX_VALUE_CHARS), what)
    return FILTERS["join"](eval_ctx, items, d)  # type: ignore[no-any-return]


@pass_environment
def _wordwrap(
    environment: Environment,
    s: Any,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    what = "the 'wordwrap' filter"
    size = text_size(s)
    limit = min(MAX_WORDWRAP_CHARS, MAX_WORDWRAP_LINES * max(_width(width), 1))
    if size > limit:
        raise TemplateProblem(
            f"{what} takes at most {limit} characters at width {width}"
            f" (at most {MAX_WORDWRAP_LINES} lines of the width, up to {MAX_WORDWRAP_CHARS})"
        )
    wrap = environment.newline_sequence if wrapstring is None else wrapstring
    check_chars(size + (size + 1) * text_size(wrap), what)
    return FILTERS["wordwrap"](  # type: ignore[no-any-return]
        environment, s, width, break_long_words, wrapstring, break_on_hyphens
    )


@pass_eval_context
def _urlize(eval_ctx: EvalContext, value: Any, *args: Any, **kwargs: Any) -> str:
    what = "the 'urlize' filter"
    _input_size(value, MAX_URLIZE_CHARS, what)
    # Every link carries the attributes: keep them short, or a link could multiply them.
    for attribute in (*args, *kwargs.values()):
        if text_size(attribute) > 100:
            raise TemplateProblem(f"{what}: an argument of more than 100 characters")
    return FILTERS["urlize"](eval_ctx, value, *args, **kwargs)  # type: ignore[no-any-return]


@pass_eval_context
def _tojson(eval_ctx: EvalContext, value: Any, indent: Any = None) -> Markup:
    if indent is not None:  # every line indented: a list of n items grows by n x indent
        raise TemplateProblem("tojson(indent=...) is not available in a template")
    return FILTERS["tojson"](eval_ctx, value)  # type: ignore[no-any-return]


def _escape(value: Any) -> Markup:
    check_chars(escaped_size(value), "the 'escape' filter")
    return FILTERS["escape"](value)  # type: ignore[no-any-return]


def _forceescape(value: Any) -> Markup:
    check_chars(ESCAPE_FACTOR * text_size(value), "the 'forceescape' filter")
    return FILTERS["forceescape"](value)  # type: ignore[no-any-return]


def _string(value: Any) -> str:
    check_chars(text_size(value), "the 'string' filter")
    return FILTERS["string"](value)  # type: ignore[no-any-return]


def _batch(value: Any, linecount: int, fill_with: Any = None) -> Iterator[list[Any]]:
    what = "the 'batch' filter"
    check_items(_width(linecount) + (len(value) if isinstance(value, Sized) else 0), what)
    return FILTERS["batch"](value, linecount, fill_with)  # type: ignore[no-any-return]


def _slice(value: Any, slices: int, fill_with: Any = None) -> Iterator[list[Any]]:
    what = "the 'slice' filter"
    check_items(_width(slices) + (len(value) if isinstance(value, Sized) else 0), what)
    return FILTERS["slice"](value, slices, fill_with)  # type: ignore[no-any-return]


@pass_environment
def _sum(environment: Environment, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    if not isinstance(start, int | float):
        raise TemplateProblem("the 'sum' filter adds numbers only (start must be a number)")
    return FILTERS["sum"](environment, iterable, attribute, start)


# Filters with checks of their own, before the common ones.
_CHECKED: Final[dict[str, Filter]] = {
    "center": _center,
    "indent": _indent,
    "replace": _replace,
    "format": _format,
    "join": _join,
    "wordwrap": _wordwrap,
    "urlize": _urlize,
    "tojson": _tojson,
    "escape": _escape,
    "e": _escape,
    "forceescape": _forceescape,
    "string": _string,
    "batch": _batch,
    "slice": _slice,
    "sum": _sum,
}


def _bounded_test(name: str, original: Filter) -> Filter:
    what = f"the '{name}' test"

    @functools.wraps(original)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        current().operation()
        if name in ("lower", "upper"):  # str(value).lower(): a copy of the value
            _input_size(_value_of(args), MAX_VALUE_CHARS, what)
        return original(*args, **kwargs)

    return bounded


def bounded_filters() -> dict[str, Filter]:
    """Every filter of Jinja2 but :data:`LEFT_OUT`, bounded."""
    return {
        name: _bounded(name, _CHECKED.get(name, original))
        for name, original in FILTERS.items()
        if name not in LEFT_OUT
    }


def bounded_tests() -> dict[str, Filter]:
    """Every test of Jinja2, each counted as an operation."""
    tests = cast(dict[str, Filter], TESTS)
    return {name: _bounded_test(name, original) for name, original in tests.items()}
