"""The methods a template may call on its values, each with the check that bounds it.

``'a'.center(n)``, ``.replace``, ``.join``, ``.split`` ...: the size of what a method will
build is estimated from its arguments before it runs. Only the methods listed here can be
called, on text, lists, tuples and dicts; any other (``encode``, ``translate``,
``fromkeys``, a number's methods, a generator's ``send``) is refused. ``format`` and
``format_map`` are reached through :class:`BoundedFormat`, which the sandbox hands out
in their place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sized
from types import MappingProxyType
from typing import Any, Final

from markupsafe import Markup, escape

from shared.templates.budget import check_chars, check_items, current
from shared.templates.formats import format_size
from shared.templates.limits import MAX_VALUE_CHARS
from shared.templates.problems import TemplateProblem
from shared.templates.sizes import escaped_size, joined_size, line_count

# (owner, positional arguments, keyword arguments) -> the arguments to call with.
Check = Callable[[Any, tuple[Any, ...], dict[str, Any]], tuple[Any, ...]]


def _unchecked(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    return args


def _text_limit(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Case changes build at most three characters per character: a bounded input."""
    if len(owner) > MAX_VALUE_CHARS:
        raise TemplateProblem(f"this method takes a text of at most {MAX_VALUE_CHARS} characters")
    return args


def _padding(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    width = args[0] if args else 0
    if isinstance(width, int):
        check_chars(max(len(owner), width), "padding a text")
    return args


def _expandtabs(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    size = args[0] if args else kwargs.get("tabsize", 8)
    if isinstance(size, int):
        check_chars(len(owner) + owner.count("\t") * max(size, 0), "'expandtabs'")
    return args


def _argument(owner: Any, value: Any) -> str:
    """An argument as the method sees it: a Markup's methods escape theirs."""
    return str(escape(value)) if isinstance(owner, Markup) else str(value)


def _replace(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if len(args) < 2:
        return args  # Python refuses it
    old, new = _argument(owner, args[0]), _argument(owner, args[1])
    found = owner.count(old) if old else len(owner) + 1
    if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
        found = min(found, args[2])
    check_chars(len(owner) + found * len(new), "'replace'")
    return args


def _join(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if not args:
        return args
    if isinstance(args[0], Sized):
        check_items(len(args[0]), "'join'")
    items = list(args[0])
    check_items(len(items), "'join'")
    separators = max(len(items) - 1, 0) * len(owner)
    escaping = isinstance(owner, Markup)
    check_chars(joined_size(items, escaping=escaping, limit=MAX_VALUE_CHARS) + separators, "'join'")
    return (items,)


def _split(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    separator = args[0] if args else kwargs.get("sep")
    most = args[1] if len(args) > 1 else kwargs.get("maxsplit", -1)
    if isinstance(separator, str) and separator:
        parts = owner.count(separator) + 1
    else:
        parts = len(owner) // 2 + 1
    if isinstance(most, int) and most >= 0:
        parts = min(parts, most + 1)
    check_items(parts, "'split'")
    return args


def _splitlines(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    check_items(line_count(owner), "'splitlines'")
    return args


def _escape(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if args:
        check_chars(escaped_size(args[0]), "'escape'")
    return args


_QUERIES: Final = (
    *("count", "find", "rfind", "index", "rindex", "startswith", "endswith", "isalnum"),
    *("isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric"),
    *("isprintable", "isspace", "istitle", "isupper"),
)
_SHRINKING: Final = (
    *("strip", "lstrip", "rstrip", "removeprefix", "removesuffix", "partition"),
    *("rpartition", "unescape", "striptags"),
)
_CASES: Final = ("capitalize", "casefold", "lower", "upper", "swapcase", "title")

TEXT_METHODS: Final = MappingProxyType[str, Check](
    {
        **dict.fromkeys(_QUERIES, _unchecked),
        **dict.fromkeys(_SHRINKING, _unchecked),
        **dict.fromkeys(_CASES, _text_limit),
        **dict.fromkeys(("center", "ljust", "rjust", "zfill"), _padding),
        "expandtabs": _expandtabs,
        "replace": _replace,
        "join": _join,
        "split": _split,
        "rsplit": _split,
        "splitlines": _splitlines,
        "escape": _escape,
    }
)
SEQUENCE_METHODS: Final = MappingProxyType[str, Check](
    {"count": _unchecked, "index": _unchecked, "copy": _unchecked}
)
MAPPING_METHODS: Final = MappingProxyType[str, Check](
    dict.fromkeys(("get", "keys", "values", "items", "copy"), _unchecked)
)


def method_check(owner: Any, name: str) -> Check | None:
    """The check for calling ``owner.name(...)``; None when a template may not call it."""
    if isinstance(owner, str):
        return TEXT_METHODS.get(name)
    if isinstance(owner, list | tuple):
        return SEQUENCE_METHODS.get(name)
    if isinstance(owner, dict):
        return MAPPING_METHODS.get(name)
    return None


class BoundedFormat:
    """``text.format`` or ``text.format_map`` as the sandbox wraps it, with its fields
    checked and its size bounded before it runs."""

    __slots__ = ("_format", "_mapping", "_text")

    def __init__(self, sandboxed: Callable[..., str], text: str, *, mapping: bool) -> None:
        self._format = sandboxed
        self._text = text
        self._mapping = mapping

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        budget = current()
        budget.operation()
        if self._mapping and len(args) == 1 and isinstance(args[0], Mapping):
            positional: tuple[Any, ...] = ()
            named: Mapping[str, Any] = args[0]
        else:
            positional, named = args, kwargs
        estimate = format_size(
            self._text, positional, named, escaping=isinstance(self._text, Markup)
        )
        check_chars(estimate, "'format'")
        return budget.built_value(self._format(*args, **kwargs), "'format'")  # type: ignore[no-any-return]
