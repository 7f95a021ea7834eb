"""Operators on values: ``+``, ``*``, ``%`` and ``~`` bounded before they build; ``**`` refused.

The sandbox intercepts every binary operator (``+ - * / // % **``). Repeating a text or
list (``*``), adding two (``+``), formatting with ``%`` and joining with ``~`` check the
size of the result from the operands first; a product of integers may not pass
:data:`MAX_PRODUCT_BITS` bits.
"""

from __future__ import annotations

import sys
from typing import Any, Final

from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.runtime import markup_join, str_join
from markupsafe import Markup

from shared.templates.budget import check_chars, check_items, current
from shared.templates.formats import printf_size
from shared.templates.limits import MAX_PRODUCT_BITS, MAX_VALUE_CHARS
from shared.templates.problems import TemplateProblem
from shared.templates.sizes import joined_size

INTERCEPTED: Final = frozenset({"+", "-", "*", "/", "//", "%", "**"})
_SEQUENCES: Final = (str, list, tuple)


def _repeat(left: Any, right: Any, what: str) -> None:
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, _SEQUENCES) and isinstance(times, int):
            size = len(sequence) * max(times, 0)
            if isinstance(sequence, str):
                check_chars(size, what)
            else:
                check_items(size, what)
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and left.bit_length() + right.bit_length() > MAX_PRODUCT_BITS
    ):
        raise TemplateProblem(f"{what} would make a number above 2**{MAX_PRODUCT_BITS}")


def _add(left: Any, right: Any, what: str) -> None:
    if isinstance(left, str) and isinstance(right, str):
        markup = isinstance(left, Markup) or isinstance(right, Markup)
        check_chars(joined_size((left, right), escaping=markup, limit=MAX_VALUE_CHARS), what)
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        check_items(len(left) + len(right), what)


def checked_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``left operator right`` when its result could pass the limits."""
    what = f"the '{operator}' operator"
    if operator == "**":
        raise TemplateProblem("the ** operator is not allowed")
    current().operation()
    if operator == "*":
        _repeat(left, right, what)
    elif operator == "+":
        _add(left, right, what)
    elif operator == "%" and isinstance(left, str):
        check_chars(printf_size(left, right, escaping=isinstance(left, Markup)), what)


def charged_result(operator: str, result: Any) -> Any:
    if isinstance(result, list | tuple):  # of items that are there already: the list only
        current().spend(sys.getsizeof(result))
    elif isinstance(result, str):
        return current().built_value(result, f"the '{operator}' operator")
    return result


@pass_eval_context
def concat(eval_ctx: EvalContext, *parts: Any) -> str:
    """``a ~ b ~ c``: what Jinja2 compiles a ``Concat`` into, with the size checked first."""
    what = "the '~' operator"
    budget = current()
    budget.operation()
    escaping = bool(eval_ctx.autoescape)
    check_chars(joined_size(parts, escaping=escaping, limit=MAX_VALUE_CHARS), what)
    joined = markup_join(parts) if eval_ctx.autoescape else str_join(parts)
    return budget.built_value(joined, what)  # type: ignore[no-any-return]
