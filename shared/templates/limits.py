"""The limits every organisation template runs within, whatever values it is given.

A template is refused when saved if its shape is too big (source, tags, nodes, nesting);
each operation it performs is refused past a limit of its own; and one render shares a
budget of built bytes, loop iterations, operations and time. Together they bound a render
to a few MB and about a second: see "Template budget" in ``docs/architecture.md`` for the
figures measured at these limits (``bench/template_limits.py``).
"""

from __future__ import annotations

from typing import Final

# -- The shape of a template, checked when it is saved (and again before it is sent) --
MAX_SOURCE_BYTES: Final = 64 * 1024
# ``{{`` and ``{%`` together; counted before parsing, which costs ~1 ms per 100 tags.
MAX_TAGS: Final = 500
# Parsed nodes: compiling costs ~3 KB of transient memory per node.
MAX_NODES: Final = 1_500
# Nesting of the parsed tree; Python refuses code nested more than 100 blocks deep.
MAX_DEPTH: Final = 40
# Integer literals; bigger numbers come only from arithmetic, which is bounded.
MAX_INT: Final = 100_000

# -- One operation (a filter, a test, a method, an operator, ``~``, one output) --
# The longest text any one operation may build, in characters.
MAX_VALUE_CHARS: Final = 100_000
# The most items a list (or range) built by one operation may hold.
MAX_ITEMS: Final = 10_000
# ``%5d``, ``{:>5}``: the largest width or precision a format may ask for.
MAX_FORMAT_WIDTH: Final = 1_000
# Filters whose work grows faster than their input take less of it.
MAX_URLIZE_CHARS: Final = 10_000
MAX_WORDWRAP_CHARS: Final = 20_000
# wordwrap breaking a long word into lines of ``width`` costs its length squared over
# ``width``: at most this many lines per call.
MAX_WORDWRAP_LINES: Final = 1_000
# Integers a multiplication may make: 2**50 (about 10**15).
MAX_PRODUCT_BITS: Final = 50

# -- One render --
# Everything the render builds, summed: values, output, buffered blocks (sys.getsizeof
# bytes, so non-ASCII text counts for what it takes).
MAX_BUILT_BYTES: Final = 4 * 1024 * 1024
# The rendered text of one template (an email part, a document body).
MAX_OUTPUT_CHARS: Final = 200_000
MAX_ITERATIONS: Final = 10_000
MAX_OPERATIONS: Final = 10_000
MAX_CPU_SECONDS: Final = 1.0
MAX_WALL_SECONDS: Final = 1.5
