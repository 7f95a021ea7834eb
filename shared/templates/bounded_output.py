"""Output: every ``{{ value }}`` a template writes is checked and charged as it is written,
also where a block buffers it before anything streams out (literal text is charged by
the loops and macros around it, see :mod:`shared.templates.instrument`)."""

from __future__ import annotations

import sys
from typing import Any, Final

from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.runtime import Undefined
from markupsafe import escape

from shared.templates.budget import check_chars, current
from shared.templates.sizes import text_size

# What one more piece of output costs a buffer: its pointer in the list.
POINTER_BYTES: Final = 8
_WHAT: Final = "writing a value"


@pass_eval_context
def finalized(eval_ctx: EvalContext, value: Any) -> Any:
    """``{{ value }}`` as text (escaped in HTML), its size checked and charged."""
    if not isinstance(value, str):
        if isinstance(value, Undefined):
            return value  # StrictUndefined raises where Jinja2 turns it into text
        check_chars(text_size(value), _WHAT)
        value = str(value)
    else:
        check_chars(len(value), _WHAT)  # escaping makes at most five characters of one
    if eval_ctx.autoescape:
        value = escape(value)
        check_chars(len(value), _WHAT)
    current().spend(sys.getsizeof(value) + POINTER_BYTES)
    return value


def written(nbytes: int) -> None:
    """Charge the literal text a macro's body writes, each time it is called."""
    current().spend(nbytes)
