"""What a value will cost before it is built: the characters it prints as, and the bytes
it holds. Estimates are upper bounds, computed without building the text they measure."""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Final

from markupsafe import Markup

# Characters str.splitlines() breaks on (``\r\n`` counts twice: an upper bound).
LINE_BREAKS: Final = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# The longest HTML escape of one character (``&#34;``, ``&#39;``, ``&amp;``).
ESCAPE_FACTOR: Final = 5
# The longest repr() of one character in a string (``\U000e0001``).
REPR_FACTOR: Final = 10
# What str() of an object that is neither text, number nor collection can print.
OTHER_TEXT: Final = 200
_EMPTY: Final = sys.getsizeof("")
_MAX_DEPTH: Final = 50


def text_size(value: Any) -> int:
    """At least ``len(str(value))``."""
    return _size(value, repr_of_text=False, depth=0)


def escaped_size(value: Any) -> int:
    """At least ``len(markupsafe.escape(value))``: exact for text, bounded otherwise."""
    if isinstance(value, Markup):
        return len(value)
    if isinstance(value, str):
        specials = value.count("&") + value.count('"') + value.count("'")
        return len(value) + 4 * specials + 3 * (value.count("<") + value.count(">"))
    if value is None or isinstance(value, int | float):  # digits escape to themselves
        return text_size(value)
    return ESCAPE_FACTOR * text_size(value)


def joined_size(parts: Iterable[Any], *, escaping: bool, limit: int) -> int:
    """At least the length of ``parts`` joined as text (each escaped when ``escaping``).
    Texts are read only when their plain lengths together stay within ``limit``, so the
    estimate never costs more than reading ``limit`` characters (a list may hold one long
    text many times over)."""
    parts = list(parts)
    plain = sum(text_size(part) for part in parts)
    if not escaping or plain > limit:
        return plain
    return sum(escaped_size(part) for part in parts)


def line_count(text: str) -> int:
    """At least the number of lines ``text.splitlines()`` makes, plus one."""
    return 2 + sum(text.count(character) for character in LINE_BREAKS)


def bytes_of(value: Any) -> int:
    """The bytes ``value`` holds, with the items of a list, tuple or dict (one level: the
    items' own items were counted when those were built)."""
    size = sys.getsizeof(value)
    if isinstance(value, list | tuple):
        size += sum(sys.getsizeof(item) for item in value)
    elif isinstance(value, dict):
        size += sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in value.items())
    return size


def text_bytes(text: str) -> int:
    """The bytes the characters of ``text`` take (1, 2 or 4 each), without the header."""
    return sys.getsizeof(text) - _EMPTY


def _size(value: Any, *, repr_of_text: bool, depth: int) -> int:
    if isinstance(value, str):
        return REPR_FACTOR * len(value) + 10 if repr_of_text else len(value)
    if value is None or isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 2  # decimal digits, and a sign
    if isinstance(value, float):
        return 32
    if depth > _MAX_DEPTH:
        return OTHER_TEXT
    if isinstance(value, list | tuple | range | set | frozenset):
        return 20 + sum(_size(item, repr_of_text=True, depth=depth + 1) + 2 for item in value)
    if isinstance(value, dict | Mapping):
        return 20 + sum(
            _size(k, repr_of_text=True, depth=depth + 1)
            + _size(v, repr_of_text=True, depth=depth + 1)
            + 4
            for k, v in value.items()
        )
    if isinstance(value, Collection):
        return 20 + sum(_size(item, repr_of_text=True, depth=depth + 1) + 2 for item in value)
    return OTHER_TEXT
