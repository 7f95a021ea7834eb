"""A Jinja2 sandbox for templates that organisations write.

The sandbox blocks attribute tricks (``__class__``, ``format``), but on its own it
bounds neither CPU nor memory. This module adds the rest:

- no loader, and ``include``/``import``/``extends`` are refused when the template
  is checked, so a template can never read a file;
- ``**`` is refused and ``*`` may not build a big string, list or number;
- integer literals are capped, so no filter gets a huge width or count;
- undefined variables are errors (``StrictUndefined``), HTML output is escaped;
- output is capped and rendering is stopped when it runs too long, also inside
  loops that produce no output (werving's own templates, ``trusted``, render in the
  same sandbox without that deadline).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from types import FrameType
from typing import Any, Final

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.meta import find_undeclared_variables
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_SOURCE_BYTES: Final = 64 * 1024
MAX_OUTPUT_CHARS: Final = 1_000_000
MAX_INT: Final = 100_000
MAX_RENDER_SECONDS: Final = 2.0
TEMPLATE_FILENAME: Final = "<organisation template>"


class TemplateProblem(ValueError):  # noqa: N818 - a finding about a template, shown to its author
    """A template that cannot be saved or rendered; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.message = message
        self.line = line


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("the ** operator is not allowed")
        for a, b in ((left, right), (right, left)):
            if (
                isinstance(a, str | list | tuple)
                and isinstance(b, int)
                and len(a) * b > MAX_OUTPUT_CHARS
            ):
                raise SecurityError("repetition would make too large a value")
        if isinstance(left, int) and isinstance(right, int) and abs(left * right) > 10**12:
            raise SecurityError("multiplication result too large")
        return super().call_binop(context, operator, left, right)


def _environment(*, html: bool) -> _Environment:
    environment = _Environment(
        loader=None,
        autoescape=html,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    # Only the sandbox's bounded range(); no cycler, joiner, lipsum or namespace objects.
    environment.globals = {"range": environment.globals["range"]}
    return environment


_ENVIRONMENTS = {True: _environment(html=True), False: _environment(html=False)}
_FORBIDDEN_NODES: Final = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


@dataclass(frozen=True, slots=True)
class CheckedTemplate:
    source: str
    html: bool
    variables: frozenset[str]
    # How long a render may run; None for werving's own templates (``trusted``).
    max_render_seconds: float | None = MAX_RENDER_SECONDS


def trusted(template: CheckedTemplate) -> CheckedTemplate:
    """``template`` rendered without a deadline: for werving's own templates, reviewed
    code. The deadline is there for what organisations write, and the tracing that
    enforces it doubles the time a render takes."""
    return replace(template, max_render_seconds=None)


def check(source: str, *, html: bool, allowed_variables: Iterable[str]) -> CheckedTemplate:
    """Refuse a template before it is saved: size, syntax (with its line), forbidden
    tags, huge numbers, and variables that the template's purpose does not provide."""
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise TemplateProblem(f"template is larger than {MAX_SOURCE_BYTES // 1024} KB")
    environment = _ENVIRONMENTS[html]
    try:
        tree = environment.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.message or "syntax error", exc.lineno) from None
    for node in tree.find_all(_FORBIDDEN_NODES):
        tag = type(node).__name__.lower()
        raise TemplateProblem(f"'{tag}' is not allowed in a template", node.lineno)
    for const in tree.find_all(nodes.Const):
        if (
            isinstance(const.value, int)
            and not isinstance(const.value, bool)
            and abs(const.value) > MAX_INT
        ):
            raise TemplateProblem(f"numbers above {MAX_INT} are not allowed", const.lineno)
    used = find_undeclared_variables(tree) - set(environment.globals)
    unknown = sorted(used - set(allowed_variables))
    if unknown:
        raise TemplateProblem(f"unknown variable(s): {', '.join(unknown)}")
    return CheckedTemplate(source=source, html=html, variables=frozenset(used))


class _Deadline:
    """Stops a render that runs too long, by tracing only the template's own frames."""

    def __init__(self, seconds: float) -> None:
        self._until = time.monotonic() + seconds
        self._seconds = seconds

    def global_trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename == TEMPLATE_FILENAME:
            self.check()
            return self.local_trace
        return None

    def local_trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self.check()
        return self.local_trace

    def check(self) -> None:
        if time.monotonic() > self._until:
            raise TemplateProblem(f"rendering took longer than {self._seconds:g} s")


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> Template:
    """Compile once per source: compiling costs far more than rendering."""
    environment = _ENVIRONMENTS[html]
    try:
        code = environment.compile(source, filename=TEMPLATE_FILENAME)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.message or "syntax error", exc.lineno) from None
    return environment.template_class.from_code(
        environment, code, environment.make_globals(None), None
    )


def render(
    template: CheckedTemplate, context: Mapping[str, Any], *, max_chars: int = MAX_OUTPUT_CHARS
) -> str:
    """Render a checked template with plain data (strings, numbers, dicts, lists), within
    its ``max_render_seconds``."""
    compiled = _compiled(template.source, template.html)
    previous = sys.gettrace()
    if template.max_render_seconds is not None:
        sys.settrace(_Deadline(template.max_render_seconds).global_trace)
    parts: list[str] = []
    size = 0
    try:
        for part in compiled.generate(dict(context)):
            size += len(part)
            if size > max_chars:
                raise TemplateProblem(f"output is larger than {max_chars} characters")
            parts.append(part)
    except TemplateProblem:
        raise
    except SecurityError as exc:
        raise TemplateProblem(f"not allowed: {exc}") from None
    except TemplateError as exc:
        raise TemplateProblem(str(exc), getattr(exc, "lineno", None)) from None
    except (ArithmeticError, TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise TemplateProblem(f"{type(exc).__name__}: {exc}") from None
    finally:
        if template.max_render_seconds is not None:
            sys.settrace(previous)
    return "".join(parts)
