"""The page every document is printed on: A4, a letterhead with the organisation's
logo and name, page numbers in the footer.

Templates (built-in or an organisation's) write only the body, and the rendered body is
cleaned to an allowlist of text and table tags with only ``class`` attributes (nh3):
no ``<style>``, ``<link>``, ``<img>``, ``<base>`` or ``style=``. So this frame and its
stylesheet are ours alone: no template can change the page, hide the page numbers or
the letterhead, load a font or reach for any resource.
"""

from __future__ import annotations

from html import escape
from typing import Final

import nh3

from shared.emails.locales import Locale

LOGO: Final = "asset:logo"
BODY_TAGS: Final = frozenset(
    {
        "h1", "h2", "h3", "h4", "p", "br", "hr", "strong", "b", "em", "i", "u", "small",
        "span", "div", "blockquote", "ul", "ol", "li", "dl", "dt", "dd",
        "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
    }
)  # fmt: skip
_BODY_ATTRIBUTES: Final = {
    "*": {"class"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
_PAGE_OF: Final[dict[Locale, tuple[str, str]]] = {
    "nl": ("Pagina ", " van "),
    "en": ("Page ", " of "),
}

_STYLESHEET: Final = """
@page {
  size: A4;
  margin: 32mm 22mm 24mm 22mm;
  @top-left { content: element(letterhead); vertical-align: bottom; padding-bottom: 6mm; }
  @bottom-right {
    content: "%(page)s" counter(page) "%(of)s" counter(pages);
    font-size: 8pt; color: #555;
  }
}
html { font-family: "DejaVu Sans", sans-serif; font-size: 10pt; line-height: 1.45; color: #111; }
.letterhead { position: running(letterhead); display: flex; align-items: center; }
.letterhead img { max-height: 14mm; max-width: 50mm; margin-right: 5mm; }
.letterhead .organisation { font-size: 12pt; font-weight: bold; }
h1 { font-size: 16pt; margin: 0 0 6mm; }
h2 { font-size: 11pt; margin: 5mm 0 1.5mm; break-after: avoid; }
p { margin: 0 0 3mm; orphans: 3; widows: 3; }
.terms { white-space: pre-line; }
.addressee { margin-bottom: 12mm; }
.date { margin-bottom: 8mm; }
.subject { font-weight: bold; margin-bottom: 6mm; }
.signature { margin-top: 8mm; }
.signing { break-inside: avoid; margin-top: 8mm; }
table.signatures { width: 100%%; margin-top: 6mm; }
table.signatures td { width: 50%%; vertical-align: top; padding-right: 8mm; }
table.signatures td.line { padding-top: 16mm; border-bottom: 0.5pt solid #111; }
table.facts { border-collapse: collapse; margin: 0 0 6mm; }
table.facts th { text-align: left; padding: 1.5mm 8mm 1.5mm 0; font-weight: normal; color: #555; }
table.facts td { padding: 1.5mm 0; }
.note { margin-top: 8mm; font-size: 8.5pt; color: #555; }
"""


def page(body: str, *, title: str, locale: Locale, organisation: str, with_logo: bool) -> str:
    """A whole HTML document around ``body`` (already rendered and escaped), to render
    with :func:`stylesheet` (the renderer parses that once, not with every document)."""
    logo = f'<img src="{LOGO}" alt="">' if with_logo else ""
    body = clean_body(body)
    return (
        "<!DOCTYPE html>"
        f'<html lang="{locale}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        f'<meta name="author" content="{escape(organisation)}"></head>'
        f'<body><div class="letterhead">{logo}'
        f'<span class="organisation">{escape(organisation)}</span></div>'
        f"<main>{body}</main></body></html>"
    )


def stylesheet(locale: Locale) -> str:
    """The page's CSS: A4, the letterhead, "Pagina 1 van 2" in the footer."""
    page_label, of_label = _PAGE_OF[locale]
    return _STYLESHEET % {"page": page_label, "of": of_label}


def standalone(html: str, css: str) -> str:
    """``html`` with ``css`` inside it, as one self-contained document."""
    return html.replace("</head>", f"<style>{css}</style></head>", 1)


def clean_body(body: str) -> str:
    """``body`` with only :data:`BODY_TAGS` and ``class`` attributes left (text is kept)."""
    return nh3.clean(
        body, tags=set(BODY_TAGS), attributes=_BODY_ATTRIBUTES, link_rel=None, url_schemes=set()
    )
