"""An email's three templates (subject, text, html) and the error that names the failing one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from shared.templates.sandbox import TemplateProblem

Part = Literal["subject", "text", "html"]
PARTS: Final[tuple[Part, ...]] = get_args(Part)


@dataclass(frozen=True, slots=True)
class TemplateSet:
    """Template sources for one purpose and locale: built-in, or an organisation's override."""

    subject: str
    text: str
    html: str


class TemplatePartProblem(TemplateProblem):
    """A :class:`TemplateProblem` in one part of a template set; ``part`` says which.

    ``str()`` reads "subject: line 2: unexpected '}'"; ``message`` and ``line`` are the
    underlying problem's, so an API can show ``part`` as the field and ``line`` beside it.
    """

    def __init__(self, part: Part, message: str, line: int | None = None) -> None:
        super().__init__(message, line)
        self.part: Part = part
        where = message if line is None else f"line {line}: {message}"
        self.args = (f"{part}: {where}",)
