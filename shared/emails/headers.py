"""Characters that must never reach an email header.

CR and LF end a header line, so a value holding one could add a header (``Bcc:``) or start
the body. Python's email folding also splits on the other "universal newlines" (bpo-46462)
and rejoins with CRLF, and NUL cuts some parsers short. Every value bound for a header
(the rendered subject, and any variable the subject uses) is checked against this set.
"""

from __future__ import annotations

from typing import Final

UNSAFE_HEADER_CHARACTERS: Final = frozenset("\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def unsafe_header_character(value: str) -> str | None:
    """The first character of ``value`` that may not be in a header, as ``U+000A``; or None."""
    for character in value:
        if character in UNSAFE_HEADER_CHARACTERS:
            return f"U+{ord(character):04X}"
    return None
