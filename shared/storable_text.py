"""The one rule for text that werving may store, and the models that apply it.

PostgreSQL (a UTF-8 database) refuses NUL (U+0000) in ``text`` and in ``jsonb``, and a
lone surrogate (U+D800 to U+DFFF) is no character at all: it cannot be encoded as UTF-8,
so it never reaches the database. Every other code point is stored as it is. SQLite
stores both happily, so this rule, not the database, decides what is refused: a request
or message carrying such text is refused naming the field, never half stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

UNSTORABLE_CODE: Final = "unstorable_text"
_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")

Location = tuple[str | int, ...]


def unstorable_reason(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    what = "NUL" if char == "\x00" else "a lone surrogate"
    return (
        f"contains {what} (U+{ord(char):04X}) at position {found.start()},"
        " which cannot be stored as text"
    )


def printable(text: str) -> str:
    """``text`` with every character that cannot be stored written as an escape
    (``\\x00``, ``\\ud800``), for error messages that name what they refuse."""
    return _UNSTORABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def unstorable_parts(value: Any) -> Iterator[tuple[Location, str]]:
    """The location and reason of every text inside ``value`` that cannot be stored:
    strings and secrets, dict keys and values, items of lists, tuples and sets, and the
    fields of pydantic models that do not check themselves. Iterative, so any nesting
    that a parser let through is walked without recursion."""
    stack: list[tuple[Location, Any]] = [((), value)]
    while stack:
        location, item = stack.pop()
        if isinstance(item, SecretStr | SecretBytes):
            item = item.get_secret_value()
        if isinstance(item, str):
            reason = unstorable_reason(item)
            if reason is not None:
                yield location, reason
        elif isinstance(item, dict):
            for key, inner in reversed(item.items()):
                if isinstance(key, str) and (reason := unstorable_reason(key)) is not None:
                    yield (*location, printable(key)), f"the key {reason}"
                    continue
                stack.append(((*location, key), inner))
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(
                reversed([((*location, index), inner) for index, inner in enumerate(item)])
            )
        elif isinstance(item, BaseModel) and not isinstance(item, StorableTextModel):
            stack.extend(reversed([((*location, name), inner) for name, inner in item]))


class StorableTextModel(BaseModel):
    """A model whose every text, at any depth, must be storable. Checked on the input
    before any field is validated (so before a discriminator picks a command type, and
    before a field's own checks could quote the text back), and refused with one error
    per such text, naming its field: ``applicant.name``, ``variables.foo``,
    ``ratings.0.comment``."""

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data  # a model instance checked itself; anything else fails as usual
        problems = [
            InitErrorDetails(
                type=PydanticCustomError(UNSTORABLE_CODE, reason), loc=location, input=data
            )
            for location, reason in unstorable_parts(data)
        ]
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        return data
