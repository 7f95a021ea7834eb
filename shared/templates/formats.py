"""Format strings a template may use: ``'%5s' % x``, ``|format`` and ``'{:>5}'.format(x)``.

Widths and precisions are digits of at most :data:`MAX_FORMAT_WIDTH`; a width taken from
the arguments (``%*d``) or from another field (``{:{}}``) is refused. Each function returns
an upper bound of the formatted text's length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from string import Formatter
from typing import Any, Final

from shared.templates.limits import MAX_FORMAT_WIDTH
from shared.templates.problems import TemplateProblem
from shared.templates.sizes import ESCAPE_FACTOR, REPR_FACTOR, text_size

# A printf conversion: %[(name)][flags][width][.precision][length]type
_PRINTF: Final = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?[hlL]?"
    r"(?P<type>.?)",
    re.DOTALL,
)
# The standard format spec: [[fill]align][sign]["z"]["#"]["0"][width][grouping]["." precision][type]
_SPEC: Final = re.compile(
    r"(?:.?[<>=^])?[+\- ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d+))?[a-zA-Z%]?",
    re.DOTALL,
)
# The longest a number can print as: 1e308 in full with its digits grouped.
_NUMBER_TEXT: Final = 450


def _bounded(digits: str | None, what: str) -> int:
    if not digits:
        return 0
    # The digits are never converted when there are too many of them.
    if len(digits) > len(str(MAX_FORMAT_WIDTH)) or int(digits) > MAX_FORMAT_WIDTH:
        raise TemplateProblem(f"a format {what} above {MAX_FORMAT_WIDTH} is not allowed")
    return int(digits)


def printf_size(template: str, values: Any, *, escaping: bool) -> int:
    """``template % values``: the conversions checked, the result's length bounded."""
    size = len(template)
    if isinstance(values, Mapping):
        args: Iterable[Any] = values.values()
    elif isinstance(values, tuple):
        args = values
    else:
        args = (values,)
    largest = max((text_size(arg) for arg in args), default=0)
    largest *= ESCAPE_FACTOR if escaping else 1
    for conversion in _PRINTF.finditer(template):
        if conversion["width"] == "*" or conversion["precision"] == "*":
            raise TemplateProblem("a format width or precision taken from the values ('*')")
        width = _bounded(conversion["width"], "width")
        precision = _bounded(conversion["precision"], "precision")
        factor = REPR_FACTOR if conversion["type"] in ("r", "a") else 1
        size += width + precision + factor * largest + _NUMBER_TEXT
    return size


def format_size(
    template: str, args: Iterable[Any], kwargs: Mapping[str, Any], *, escaping: bool
) -> int:
    """``template.format(*args, **kwargs)``: the fields checked, the result's length
    bounded. A field may name any argument, and any of its items or attributes, so each
    counts as the largest of them."""
    largest = max((text_size(v) for v in (*args, *kwargs.values())), default=0)
    largest *= ESCAPE_FACTOR if escaping else 1
    size = len(template)
    try:
        fields = list(Formatter().parse(template))
    except ValueError as exc:
        raise TemplateProblem(f"format string: {exc}") from None
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        spec = spec or ""
        if "{" in spec:
            raise TemplateProblem("a format field inside another field's format is not allowed")
        parsed = _SPEC.fullmatch(spec)
        if parsed is None:
            raise TemplateProblem(f"format spec {spec[:20]!r} is not understood")
        width = _bounded(parsed["width"], "width")
        precision = _bounded(parsed["precision"], "precision")
        factor = REPR_FACTOR if conversion in ("r", "a") else 1
        size += width + precision + factor * largest + _NUMBER_TEXT
    return size
