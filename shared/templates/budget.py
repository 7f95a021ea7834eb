"""The budget of one render: built bytes, loop iterations, operations, CPU and wall time.

Every hook of the sandbox (filters, tests, method calls, operators, ``~``, loop items,
output) charges the render's :class:`Budget`, found in a context variable, so a filter
deep inside ``map`` charges the same budget as the template around it. Exceeding any part
raises :class:`~shared.templates.problems.TemplateProblem`; the sandbox adds the line.

Nothing mutable outlives a loop iteration in the immutable sandbox, so the bytes built,
summed over the whole render, bound its peak memory.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any, Final

from shared.templates.limits import (
    MAX_BUILT_BYTES,
    MAX_CPU_SECONDS,
    MAX_ITEMS,
    MAX_ITERATIONS,
    MAX_OPERATIONS,
    MAX_VALUE_CHARS,
    MAX_WALL_SECONDS,
)
from shared.templates.problems import TemplateProblem
from shared.templates.sizes import bytes_of

# time.thread_time() is a system call (~1.5 us); it is read when this much wall time has
# passed since the last reading, and the wall clock (~0.1 us) at every operation and
# loop item.
_CPU_READ_EVERY: Final = 0.01


class Budget:
    """What one render may still spend. Not thread-safe: a render runs in one thread."""

    __slots__ = (
        "built",
        "cpu_deadline",
        "iterations",
        "next_cpu_read",
        "operations",
        "wall_deadline",
    )

    def __init__(self) -> None:
        self.wall_deadline = time.monotonic() + MAX_WALL_SECONDS
        # Read at the first operation or loop item: until then a render only writes its
        # own text, and most of werving's renders never get there.
        self.cpu_deadline: float | None = None
        self.next_cpu_read = 0.0
        self.built = 0
        self.iterations = 0
        self.operations = 0

    def operation(self) -> None:
        """One filter, test, call or operator."""
        self.operations += 1
        if self.operations > MAX_OPERATIONS:
            raise TemplateProblem(f"the template performs more than {MAX_OPERATIONS} operations")
        self.clock()

    def iteration(self) -> None:
        """One item taken by a ``for`` loop."""
        self.iterations += 1
        if self.iterations > MAX_ITERATIONS:
            raise TemplateProblem(f"loops run more than {MAX_ITERATIONS} times in all")
        self.clock()

    def spend(self, nbytes: int) -> None:
        """Bytes built (a value, output, a buffered block). The clock is read by the
        operations and loop items that build them."""
        self.built += nbytes
        if self.built > MAX_BUILT_BYTES:
            raise TemplateProblem(
                f"the template builds more than {MAX_BUILT_BYTES // (1024 * 1024)} MB of text"
                " and values"
            )

    def clock(self) -> None:
        now = time.monotonic()
        if now > self.wall_deadline:
            raise TemplateProblem(f"rendering takes longer than {MAX_WALL_SECONDS:g} s")
        if now >= self.next_cpu_read:
            self.next_cpu_read = now + _CPU_READ_EVERY
            cpu = time.thread_time()
            if self.cpu_deadline is None:
                self.cpu_deadline = cpu + MAX_CPU_SECONDS
            elif cpu > self.cpu_deadline:
                raise TemplateProblem(
                    f"rendering takes more than {MAX_CPU_SECONDS:g} s of processor time"
                )

    def built_value(self, value: Any, what: str, *, extra: int = 0) -> Any:
        """``value``, just built by ``what``, checked against the per-value limits and
        charged (with ``extra`` bytes); a text, list or tuple past its limit is refused (it
        has been built, but within the bounds the operation's own checks set)."""
        if isinstance(value, str):
            if len(value) > MAX_VALUE_CHARS:
                raise too_long(what)
        elif isinstance(value, list | tuple) and len(value) > MAX_ITEMS:
            raise too_many(what)
        self.spend(bytes_of(value) + extra)
        return value


def too_long(what: str) -> TemplateProblem:
    return TemplateProblem(f"{what} would build a text of more than {MAX_VALUE_CHARS} characters")


def too_many(what: str) -> TemplateProblem:
    return TemplateProblem(f"{what} would build a list of more than {MAX_ITEMS} items")


def check_chars(estimate: int, what: str) -> None:
    """Refuse, before building it, a text that could be longer than the limit."""
    if estimate > MAX_VALUE_CHARS:
        raise too_long(what)


def check_items(estimate: int, what: str) -> None:
    """Refuse, before building it, a list that could hold more than the limit."""
    if estimate > MAX_ITEMS:
        raise too_many(what)


CURRENT: ContextVar[Budget | None] = ContextVar("template_budget", default=None)
"""The budget of the render running in this context: ``sandbox.render`` sets a fresh one."""


def current() -> Budget:
    """The budget of the render running in this context."""
    budget = CURRENT.get()
    if budget is None:
        raise RuntimeError("a sandboxed template ran outside shared.templates.sandbox.render")
    return budget
