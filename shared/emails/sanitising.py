"""What HTML may leave in an email that an organisation or a caller wrote: formatting,
tables, links and inline images, nothing else (nh3, an allowlist).

No script, no event handlers, no forms or frames, and nothing the reader's client would
load from elsewhere: links keep ``http``, ``https`` and ``mailto`` (and ``#``) targets;
images keep only ``data:`` images and ``cid:`` parts of the message; style attributes keep
only the properties of :data:`STYLE_PROPERTIES`, and lose any declaration that names a
``url(``, an image function or an escape. The result is a whole document again, in the
email's language. werving's own templates go out as they are: they are our code, with
every value escaped.
"""

from __future__ import annotations

import re
from html import escape
from typing import Final

import nh3

TAGS: Final = frozenset(
    {
        "a", "abbr", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption",
        "center", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt",
        "em", "figcaption", "figure", "font", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "i", "img", "ins", "kbd", "li", "main", "mark", "ol", "p", "pre",
        "q", "s", "samp", "section", "small", "span", "strike", "strong", "sub", "sup",
        "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul",
        "var", "wbr",
    }
)  # fmt: skip
# Removed with everything inside them (other tags not in TAGS go, their text stays).
DROPPED_WITH_CONTENT: Final = frozenset(
    {"script", "style", "title", "noscript", "template", "textarea", "select", "iframe",
     "object", "embed", "svg", "math", "canvas", "audio", "video"}
)  # fmt: skip
ATTRIBUTES: Final = {
    "*": {"style", "class", "dir", "lang", "title", "align", "valign", "width", "height"},
    "a": {"href", "name"},
    "img": {"src", "alt", "border"},
    "table": {"border", "cellpadding", "cellspacing", "bgcolor", "role", "summary"},
    "td": {"colspan", "rowspan", "bgcolor", "nowrap", "scope"},
    "th": {"colspan", "rowspan", "bgcolor", "nowrap", "scope"},
    "tr": {"bgcolor"},
    "col": {"span"},
    "colgroup": {"span"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type", "reversed"},
    "li": {"value"},
}
STYLE_PROPERTIES: Final = frozenset(
    {
        "background-color", "border", "border-bottom", "border-bottom-color",
        "border-bottom-left-radius", "border-bottom-right-radius", "border-bottom-style",
        "border-bottom-width", "border-collapse", "border-color", "border-left",
        "border-left-color", "border-left-style", "border-left-width", "border-radius",
        "border-right", "border-right-color", "border-right-style", "border-right-width",
        "border-spacing", "border-style", "border-top", "border-top-color",
        "border-top-left-radius", "border-top-right-radius", "border-top-style",
        "border-top-width", "border-width", "color", "direction", "display", "font",
        "font-family", "font-size", "font-style", "font-variant", "font-weight", "height",
        "letter-spacing", "line-height", "list-style-position", "list-style-type",
        "margin", "margin-bottom", "margin-left", "margin-right", "margin-top",
        "max-height", "max-width", "min-height", "min-width", "overflow-wrap", "padding",
        "padding-bottom", "padding-left", "padding-right", "padding-top", "table-layout",
        "text-align", "text-decoration", "text-indent", "text-transform", "vertical-align",
        "white-space", "width", "word-break", "word-spacing", "word-wrap",
    }
)  # fmt: skip
_LINKS: Final = ("http://", "https://", "mailto:", "#")
_INLINE_IMAGE: Final = re.compile(r"(?:data:image/(?:png|gif|jpeg|webp);base64,|cid:)", re.I)
# A declaration that could load something, or hide what it is behind an escape.
_LOADS: Final = re.compile(r"url\s*\(|image|element\s*\(|expression|src\s*\(|@import|\\", re.I)
# Its own document around the sanitised body: the body's attributes stay, on a div.
_BODY: Final = re.compile(r"<(/?)body\b", re.I)


def _allowed(element: str, attribute: str, value: str) -> str | None:
    if attribute == "style":
        return ";".join(part for part in value.split(";") if not _LOADS.search(part))
    if element == "a" and attribute == "href":
        return value if value.strip().lower().startswith(_LINKS) else None
    if element == "img" and attribute == "src":
        return value if _INLINE_IMAGE.match(value.strip()) else None
    return value


# Built once: nh3 turns the allowlists into a sanitiser, which costs more than using it.
_CLEANER: Final = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
    attribute_filter=_allowed,
    url_schemes={"http", "https", "mailto", "data", "cid"},
    filter_style_properties=set(STYLE_PROPERTIES),
    link_rel="noopener noreferrer",
    strip_comments=True,
)


def sanitised(html: str, *, lang: str) -> str:
    """``html`` with only what :data:`TAGS`, :data:`ATTRIBUTES` and the rules above let
    through, as a whole document."""
    body = _CLEANER.clean(_BODY.sub(r"<\1div", html))
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        f"<body>{body}</body></html>"
    )
