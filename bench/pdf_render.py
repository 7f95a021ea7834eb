"""Where a contract's render time goes, and what makes document_worker's render faster
than WeasyPrint's defaults: each variant renders the built-in Dutch contract (sample
values, our page stylesheet) ``k`` times in this process after one warm-up render.

Variants, each measured in the same run:

- WeasyPrint's defaults, the stylesheet inside the HTML;
- the same with font subsetting by fontTools instead of HarfBuzz (what WeasyPrint falls
  back to without the ``libharfbuzz-subset0`` package);
- the worker's options (PDF/A-3b, the locked-down fetcher);
- + one ``FontConfiguration`` kept across renders (the render child keeps one);
- + the page stylesheet parsed once (the render child keeps it) - the worker's render;
- the worker's render split into layout and ``write_pdf``;
- the worker's render with whole fonts embedded (no subsetting) and uncompressed;
- the body template compiled by Jinja2 per render instead of once.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.document_worker.fetcher import LockedFetcher
from services.document_worker.layout import page, standalone, stylesheet
from services.document_worker.pdf import PDF_VARIANT
from shared.documents.purposes import builtin_template, sample_values
from shared.templates import sandbox


@dataclass(frozen=True)
class Variant:
    label: str
    median_ms: float
    mean_ms: float
    size: int


def render_variants(k: int) -> list[Variant]:
    import weasyprint.pdf.fonts as weasyprint_fonts
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    template = builtin_template("contract", "nl")
    values = sample_values("contract", "nl")
    body = sandbox.render(template, values)
    html = page(
        body,
        title="Arbeidsovereenkomst",
        locale="nl",
        organisation="Zorggroep Noord",
        with_logo=False,
    )
    css_text = stylesheet("nl")
    inline = standalone(html, css_text)
    fonts = FontConfiguration()
    css = CSS(string=css_text, font_config=fonts)

    def defaults() -> bytes:
        return bytes(HTML(string=inline).write_pdf())

    def fonttools_subsetting() -> bytes:
        saved = weasyprint_fonts.harfbuzz_subset
        weasyprint_fonts.harfbuzz_subset = None
        quiet = logging.getLogger("weasyprint")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # it warns about the fallback on every render
        try:
            return defaults()
        finally:
            weasyprint_fonts.harfbuzz_subset = saved
            quiet.setLevel(level)

    def worker_options() -> bytes:
        document = HTML(string=inline, url_fetcher=LockedFetcher({})).render(
            pdf_variant=PDF_VARIANT
        )
        return bytes(document.write_pdf(pdf_variant=PDF_VARIANT))

    def layout() -> Any:
        return HTML(string=html, url_fetcher=LockedFetcher({})).render(
            pdf_variant=PDF_VARIANT, font_config=fonts, stylesheets=[css]
        )

    def kept_fonts() -> bytes:
        document = HTML(string=inline, url_fetcher=LockedFetcher({})).render(
            pdf_variant=PDF_VARIANT, font_config=fonts
        )
        return bytes(document.write_pdf(pdf_variant=PDF_VARIANT))

    def worker_render(**write: object) -> bytes:
        document = layout()
        return bytes(document.write_pdf(pdf_variant=PDF_VARIANT, **write))

    laid_out = layout()

    def write_only() -> bytes:
        return bytes(laid_out.write_pdf(pdf_variant=PDF_VARIANT))

    def compile_every_time() -> bytes:
        sandbox._compiled.cache_clear()
        sandbox.render(template, values)
        return worker_render()

    variants: list[tuple[str, Callable[[], bytes]]] = [
        ("WeasyPrint defaults (HarfBuzz subsetting)", defaults),
        ("defaults, fontTools subsetting (no libharfbuzz-subset0)", fonttools_subsetting),
        ("worker options: PDF/A-3b + locked-down fetcher", worker_options),
        ("+ one FontConfiguration for all renders", kept_fonts),
        ("+ page stylesheet parsed once = the worker's render", worker_render),
        ("  of which layout (HTML -> boxes, pages)", lambda: (layout(), b"")[1]),
        ("  of which write_pdf (subset fonts, serialise)", write_only),
        ("the worker's render, whole fonts embedded", lambda: worker_render(full_fonts=True)),
        ("the worker's render, uncompressed", lambda: worker_render(uncompressed_pdf=True)),
        ("the worker's render, Jinja2 compiling per render", compile_every_time),
    ]
    results = []
    for label, render in variants:
        data = render()
        timings = []
        for _ in range(k):
            started = time.perf_counter()
            data = render()
            timings.append((time.perf_counter() - started) * 1000)
        results.append(
            Variant(label, statistics.median(timings), statistics.fmean(timings), len(data))
        )
    return results
