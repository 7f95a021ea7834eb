"""Loops: every item a ``for`` takes is counted, and ``range`` is as short as a list."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from shared.templates.budget import current
from shared.templates.limits import MAX_ITEMS
from shared.templates.problems import TemplateProblem


def counted(iterable: Iterable[Any], nbytes: int) -> Iterator[Any]:
    """What a ``for`` loop iterates over (the sandbox wraps every loop's iterable in it):
    each item counted, and the ``nbytes`` of literal text the loop's body writes charged."""
    budget = current()
    for item in iterable:
        budget.iteration()
        budget.spend(nbytes)
        yield item


def bounded_range(*args: int) -> range:
    """The template global ``range``: at most :data:`MAX_ITEMS` numbers."""
    numbers = range(*args)
    if len(numbers) > MAX_ITEMS:
        raise TemplateProblem(f"a range of more than {MAX_ITEMS} numbers is not allowed")
    return numbers
