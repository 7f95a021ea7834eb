"""An organisation's email templates: what the API takes and answers with."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.commands.base import Contract
from shared.emails.locales import Locale
from shared.emails.purposes import Purpose
from shared.templates.sandbox import MAX_SOURCE_BYTES

_JINJA = (
    " Jinja2 in a sandbox: only the purpose's variables (see `variables`), no include, import,"
    " extends, block or autoescape; every filter, method, operator and loop is bounded, and a"
    " render that passes a bound fails with `template_error` (see docs/architecture.md,"
    " Template budget)."
)


class EmailTemplateIn(Contract):
    subject: str = Field(
        max_length=MAX_SOURCE_BYTES,
        description="The subject line; it must render to a single line." + _JINJA,
    )
    text: str = Field(max_length=MAX_SOURCE_BYTES, description="The plain-text part." + _JINJA)
    html: str = Field(
        max_length=MAX_SOURCE_BYTES,
        description="The HTML part, autoescaped; `<style>` rules are inlined when sent, then"
        " it is sanitised: no script, event handler, frame, form or remote image." + _JINJA,
    )


class EmailTemplateView(BaseModel):
    purpose: Purpose
    locale: Locale
    source: Literal["organisation", "builtin"] = Field(
        description="`organisation` for the organisation's own template, `builtin` for"
        " werving's (which is sent while the organisation has none)."
    )
    version: int | None = Field(description="Goes up by one on every save; null for the built-in.")
    updated_at: datetime | None
    variables: list[str] = Field(description="The variables this purpose's templates may use.")
    subject: str
    text: str
    html: str


class EmailTemplateSummary(BaseModel):
    purpose: Purpose
    locale: Locale
    version: int
    updated_at: datetime


class EmailTemplateList(BaseModel):
    items: list[EmailTemplateSummary] = Field(
        description="The organisation's own templates; every other purpose and locale uses"
        " the built-in."
    )
    purposes: list[Purpose]
    locales: list[Locale]


class RenderedEmailView(BaseModel):
    subject: str
    text: str
    html: str = Field(description="With the CSS inlined and sanitised, as it is sent.")
