"""A Jinja2 sandbox for templates, bounded by construction rather than by sample values.

The sandbox blocks attribute tricks (``__class__``, ``format``), but on its own it bounds
neither CPU nor memory. This module adds the rest, on Jinja2's public API:

- ``check`` refuses what a template may not be (:mod:`shared.templates.shape`): too big,
  a file read (``include``/``import``/``extends``), ``block``, ``autoescape``, a recursive
  loop, a huge number, a variable its purpose does not give;
- every filter, test, method call, operator, ``~``, loop item and output is bounded and
  charged to one budget per render (:mod:`shared.templates.budget`): built bytes, loop
  iterations, operations, CPU and wall time. Whatever values a template gets, a render
  stays within a few MB and :data:`MAX_WALL_SECONDS`;
- undefined variables are errors (``StrictUndefined``), HTML output is escaped, and the
  compile-time optimizer is off, so nothing of a template runs before its render does.

Every template, werving's own included, renders the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from typing import Any, Final

from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.meta import find_undeclared_variables
from jinja2.runtime import Context, LoopContext, Macro, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from shared.templates.bounded_filters import bounded_filters, bounded_tests
from shared.templates.bounded_loops import bounded_range, counted
from shared.templates.bounded_methods import BoundedFormat, method_check
from shared.templates.bounded_operators import INTERCEPTED, charged_result, checked_binop, concat
from shared.templates.bounded_output import finalized, written
from shared.templates.budget import CURRENT, Budget, current
from shared.templates.instrument import CONCAT, ITERATE, WRITTEN, instrumented
from shared.templates.limits import (
    MAX_INT,
    MAX_OUTPUT_CHARS,
    MAX_SOURCE_BYTES,
    MAX_WALL_SECONDS,
)
from shared.templates.problems import TemplateProblem
from shared.templates.shape import parsed

__all__ = [
    "MAX_INT",
    "MAX_OUTPUT_CHARS",
    "MAX_SOURCE_BYTES",
    "MAX_WALL_SECONDS",
    "TEMPLATE_FILENAME",
    "CheckedTemplate",
    "TemplateProblem",
    "check",
    "render",
]

TEMPLATE_FILENAME: Final = "<organisation template>"
# Output pieces are joined into one chunk every so many: a list of a million small
# strings would cost ~60 MB on its own.
_JOIN_EVERY: Final = 1024
_HOOKS: Final = frozenset({id(counted), id(concat), id(written)})
_LOOP_METHODS: Final = frozenset({"cycle", "changed"})


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = INTERCEPTED

    def __init__(self, *, html: bool) -> None:
        super().__init__(
            loader=None,
            autoescape=html,
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            finalize=finalized,
            optimized=False,  # it would run filters and operators while compiling
        )
        self.filters.clear()
        self.filters.update(bounded_filters())
        self.tests.clear()
        self.tests.update(bounded_tests())
        # Only a bounded range(); no cycler, joiner, lipsum, dict or namespace objects.
        self.globals = {"range": bounded_range}
        # The hooks instrument.py calls, out of any template's reach.
        setattr(self, ITERATE, counted)
        setattr(self, CONCAT, concat)
        setattr(self, WRITTEN, written)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        checked_binop(operator, left, right)
        return charged_result(operator, super().call_binop(context, operator, left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        if id(obj) in _HOOKS:
            return super().call(context, obj, *args, **kwargs)
        budget = current()
        budget.operation()
        name = getattr(obj, "__name__", type(obj).__name__)
        if not (
            isinstance(obj, Undefined | Macro | BoundedFormat)
            or obj is bounded_range
            or (isinstance(getattr(obj, "__self__", None), LoopContext) and name in _LOOP_METHODS)
        ):
            check = method_check(getattr(obj, "__self__", None), name)
            if check is None:
                raise TemplateProblem(f"calling {name!r} is not allowed in a template")
            args = check(obj.__self__, args, kwargs)
        result = super().call(context, obj, *args, **kwargs)
        return budget.built_value(result, f"calling {name!r}")

    def getitem(self, obj: Any, argument: Any) -> Any:
        if not isinstance(argument, slice):
            return super().getitem(obj, argument)
        budget = current()
        budget.operation()
        return budget.built_value(super().getitem(obj, argument), "a slice")

    def wrap_str_format(self, value: Any) -> BoundedFormat | None:
        sandboxed = super().wrap_str_format(value)
        if sandboxed is None:
            return None
        return BoundedFormat(sandboxed, value.__self__, mapping=value.__name__ == "format_map")


_ENVIRONMENTS: Final = {True: _Environment(html=True), False: _Environment(html=False)}


@dataclass(frozen=True, slots=True)
class CheckedTemplate:
    source: str
    html: bool
    variables: frozenset[str]


def check(source: str, *, html: bool, allowed_variables: Iterable[str]) -> CheckedTemplate:
    """Refuse a template before it is saved: its size and shape, syntax (with its line),
    forbidden tags, huge numbers, and variables that the template's purpose does not
    provide. It is compiled too, so a template that passes is one that can render."""
    environment = _ENVIRONMENTS[html]
    tree = parsed(environment, source)
    try:
        used = find_undeclared_variables(tree) - set(environment.globals)
    except TemplateSyntaxError as exc:  # an unknown filter or test, found while compiling
        raise TemplateProblem(exc.message or "syntax error", exc.lineno) from None
    unknown = sorted(used - set(allowed_variables))
    if unknown:
        raise TemplateProblem(f"unknown variable(s): {', '.join(unknown)}")
    _compiled(source, html)
    return CheckedTemplate(source=source, html=html, variables=frozenset(used))


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> Template:
    """Parse, instrument and compile once per source: compiling costs far more than
    rendering."""
    environment = _ENVIRONMENTS[html]
    tree = instrumented(parsed(environment, source))
    tree.set_environment(environment)
    try:
        code = environment.compile(tree, filename=TEMPLATE_FILENAME)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.message or "syntax error", exc.lineno) from None
    except (SyntaxError, RecursionError):  # Python's own limits on nesting
        raise TemplateProblem("the template nests too deeply") from None
    return environment.template_class.from_code(
        environment, code, environment.make_globals(None), None
    )


def _line(traceback: TracebackType | None) -> int | None:
    """The template line an error was raised at: Jinja2 rewrites the traceback so that the
    template's frames carry its file name and line numbers."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == TEMPLATE_FILENAME:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def render(
    template: CheckedTemplate, context: Mapping[str, Any], *, max_chars: int = MAX_OUTPUT_CHARS
) -> str:
    """Render a checked template with plain data (strings, numbers, dicts, lists), within
    one budget, and at most ``max_chars`` characters of output."""
    compiled = _compiled(template.source, template.html)
    chunks: list[str] = []
    parts: list[str] = []
    size = 0
    budget = CURRENT.set(Budget())
    try:
        for part in compiled.generate(dict(context)):
            size += len(part)
            if size > max_chars:
                raise TemplateProblem(f"output is larger than {max_chars} characters")
            parts.append(part)
            if len(parts) >= _JOIN_EVERY:
                chunks.append("".join(parts))
                parts.clear()
    except TemplateProblem as problem:
        raise TemplateProblem(
            problem.message, problem.line or _line(problem.__traceback__)
        ) from None
    except SecurityError as exc:
        raise TemplateProblem(f"not allowed: {exc}", _line(exc.__traceback__)) from None
    except TemplateError as exc:
        line = getattr(exc, "lineno", None) or _line(exc.__traceback__)
        raise TemplateProblem(str(exc), line) from None
    except (ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as exc:
        raise TemplateProblem(f"{type(exc).__name__}: {exc}", _line(exc.__traceback__)) from None
    finally:
        CURRENT.reset(budget)
    chunks.append("".join(parts))
    return "".join(chunks)
