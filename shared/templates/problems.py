"""The one error a template gives its author: what is wrong, and where."""

from __future__ import annotations


class TemplateProblem(ValueError):  # noqa: N818 - a finding about a template, shown to its author
    """A template that cannot be saved or rendered; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.message = message
        self.line = line
