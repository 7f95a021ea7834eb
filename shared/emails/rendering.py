"""Render one email (subject, text and HTML) from its purpose, locale and context.

Built-in and organisation templates go through the same sandbox
(:mod:`shared.templates.sandbox`). The subject is rendered as text and must stay a single
header line; the text part is the ``.txt`` template, never derived from HTML; the HTML part
is autoescaped, then its ``<style>`` rules are inlined (:mod:`shared.emails.inlining`,
bounded before it runs). A built-in HTML template has its CSS inlined once, into the
template itself; an organisation's, into every email, which is then sanitised
(:mod:`shared.emails.sanitising`): what an organisation writes can format an email, not
run or load anything.

Every problem with a template is a :class:`TemplatePartProblem` naming ``subject``, ``text``
or ``html``: permanent, so a mail job should fail with ``template_error`` and not retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from typing import Final

import structlog

from shared.emails.builtin import builtin_template_set
from shared.emails.headers import unsafe_header_character
from shared.emails.inlining import INLINER, inlined
from shared.emails.locales import LOCALES, Locale
from shared.emails.purposes import (
    Purpose,
    allowed_variables,
    require_context,
    sample_context,
)
from shared.emails.sanitising import sanitised
from shared.emails.template_set import Part, TemplatePartProblem, TemplateSet
from shared.templates.sandbox import CheckedTemplate, TemplateProblem, check, render

log = structlog.get_logger(__name__)

MAX_SUBJECT_CHARS: Final = 255


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class _CheckedSet:
    subject: CheckedTemplate
    text: CheckedTemplate
    html: CheckedTemplate
    # The HTML template's CSS is inlined already (werving's own, once), not in each email.
    css_inlined: bool = False


def _check_part(part: Part, source: str, *, html: bool, allowed: frozenset[str]) -> CheckedTemplate:
    try:
        return check(source, html=html, allowed_variables=allowed)
    except TemplateProblem as problem:
        raise TemplatePartProblem(part, problem.message, problem.line) from None


@lru_cache(maxsize=256)
def _check_set(purpose: Purpose, templates: TemplateSet) -> _CheckedSet:
    """The checked templates, once per content: checking parses and walks each template
    (~1 ms for a set), rendering takes a tenth of that. Keyed by the sources, so an edited
    template is checked afresh."""
    allowed = allowed_variables(purpose)
    return _CheckedSet(
        # A subject file's final newline is the editor's, not a line break in the header.
        subject=_check_part(
            "subject", templates.subject.rstrip("\r\n"), html=False, allowed=allowed
        ),
        text=_check_part("text", templates.text, html=False, allowed=allowed),
        html=_check_part("html", templates.html, html=True, allowed=allowed),
    )


@cache
def _builtin(purpose: Purpose, locale: Locale) -> _CheckedSet:
    """The built-in set, checked like an organisation's, with its CSS inlined into the
    HTML template once instead of into every email (tests hold that the emails come out
    the same)."""
    sources = builtin_template_set(purpose, locale)
    checked = _check_set(purpose, replace(sources, html=INLINER.inline(sources.html)))
    return replace(checked, css_inlined=True)


def _render_part(part: Part, template: CheckedTemplate, context: Mapping[str, object]) -> str:
    try:
        output = render(template, context)
    except TemplateProblem as problem:
        raise TemplatePartProblem(part, problem.message, problem.line) from None
    if not output.strip():
        raise TemplatePartProblem(part, f"the {part} is empty")
    return output


def _render_subject(template: CheckedTemplate, context: Mapping[str, object]) -> str:
    # Before rendering: no variable the subject uses may carry a line break ...
    for name in sorted(template.variables):
        value = context[name]
        if isinstance(value, str) and (found := unsafe_header_character(value)):
            raise TemplatePartProblem(
                "subject",
                f"variable {name} holds {found} (a line break or control character), "
                "which may not be in a header",
            )
    subject = _render_part("subject", template, context)
    # ... and after rendering, neither may the subject itself, whatever the template did.
    if found := unsafe_header_character(subject):
        raise TemplatePartProblem(
            "subject",
            f"the rendered subject holds {found} (a line break or control character); "
            "a subject must be a single line",
        )
    subject = " ".join(subject.split())
    if len(subject) > MAX_SUBJECT_CHARS:
        subject = subject[: MAX_SUBJECT_CHARS - 1].rstrip() + "\N{HORIZONTAL ELLIPSIS}"
    return subject


def _render_html(templates: _CheckedSet, context: Mapping[str, object], locale: Locale) -> str:
    html = _render_part("html", templates.html, context)
    if templates.css_inlined:  # werving's own
        return html
    return sanitised(inlined(html), lang=locale)


def render_email(
    purpose: Purpose,
    locale: Locale,
    context: Mapping[str, object],
    *,
    override: TemplateSet | None = None,
) -> RenderedEmail:
    """Render the email for ``purpose``: the organisation's ``override`` when given,
    otherwise the built-in templates for ``locale``.

    ``context`` must hold every variable of the purpose (see ``purposes.VARIABLES``),
    already formatted; other keys are ignored. Raises :class:`TemplatePartProblem` (a
    :class:`TemplateProblem`) naming the part, and ``MissingVariables`` (a ``ValueError``)
    when the caller left a variable out.
    """
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}; expected one of {LOCALES}")
    values = require_context(purpose, context)
    templates = _builtin(purpose, locale) if override is None else _check_set(purpose, override)
    email = RenderedEmail(
        subject=_render_subject(templates.subject, values),
        text=_render_part("text", templates.text, values),
        html=_render_html(templates, values, locale),
    )
    log.debug(
        "mail.rendered",
        purpose=purpose,
        locale=locale,
        templates="builtin" if override is None else "organisation",
    )
    return email


def preview_email(
    purpose: Purpose, locale: Locale, *, override: TemplateSet | None = None
) -> RenderedEmail:
    """The email rendered with the purpose's sample context; nothing is sent."""
    return render_email(purpose, locale, sample_context(purpose, locale), override=override)


def check_template_set(
    purpose: Purpose, subject: str, text: str, html: str, *, locale: Locale = "nl"
) -> RenderedEmail:
    """Validate an organisation's templates before they are saved: size, syntax, forbidden
    tags and only the purpose's variables (:func:`shared.templates.sandbox.check`), then a
    render with the sample context. Raises :class:`TemplatePartProblem` naming the part
    that failed; returns the sample rendering, for the caller to show."""
    return preview_email(purpose, locale, override=TemplateSet(subject, text, html))
