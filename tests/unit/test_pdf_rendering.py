"""Rendering PDFs (document_worker.pdf): PDF/A output, and hostile documents stopped by limits."""

from __future__ import annotations

import base64
import contextlib
import io
import os
import re
import signal
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject
from structlog.testing import capture_logs

from services.document_worker.fetcher import Asset
from services.document_worker.pdf import (
    RenderedPdf,
    Renderer,
    RenderFailed,
    RenderLimits,
    render_pdf,
    shared_renderer,
)
from shared.errors import PermanentError, TransientError
from shared.settings import Settings

MB = 1024 * 1024
MONO_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"

# Roomy for a contract, tight for anything hostile; wall is well above CPU so that the
# CPU limit is what stops a runaway layout even on a busy machine.
TIGHT = RenderLimits(
    cpu_seconds=1, memory_bytes=512 * MB, wall_seconds=8, max_pages=5, max_bytes=60_000
)


def png(width: int, height: int, pixel: bytes = b"\xc0\x10\x10") -> bytes:
    """An RGB PNG of one colour."""
    return encode_png(width, height, zlib.compress((b"\x00" + pixel * width) * height))


def noise_png(width: int, height: int) -> bytes:
    """An RGB PNG that does not compress."""
    rows = b"".join(
        b"\x00"
        + b"".join(zlib.crc32(struct.pack(">II", x, y)).to_bytes(4)[:3] for x in range(width))
        for y in range(height)
    )
    return encode_png(width, height, zlib.compress(rows))


def black_png(width: int, height: int) -> bytes:
    """A large black RGB PNG, compressed a band at a time (fast, little memory)."""
    compressor = zlib.compressobj(1)
    band = (b"\x00" + b"\x00\x00\x00" * width) * 100
    idat = b"".join(compressor.compress(band) for _ in range(height // 100)) + compressor.flush()
    return encode_png(width, height - height % 100, idat)


def encode_png(width: int, height: int, idat: bytes) -> bytes:
    """A PNG from its compressed scanlines (8-bit RGB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


LOGO = Asset("image/png", png(4, 4))


def contract_html(applicant: str = "Johanna Verbeek", salary: str = "4.250,00") -> str:
    articles = "".join(
        f"<h2>Artikel {n}</h2><p>De werknemer en de werkgever komen overeen dat artikel {n}"
        " van toepassing is op deze arbeidsovereenkomst, met alle rechten en plichten"
        " die daaruit voortvloeien.</p>"
        for n in range(1, 25)
    )
    return f"""<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>Arbeidsovereenkomst</title><style>
@page {{
  size: A4; margin: 2cm 2cm 2.5cm;
  @bottom-center {{ content: "Pagina " counter(page) " van " counter(pages); font-size: 9pt; }}
}}
body {{ font-family: "DejaVu Sans", sans-serif; font-size: 10.5pt; }}
img.logo {{ width: 3cm; }}
table {{ border-collapse: collapse; width: 100%; }}
td {{ border: 1px solid #888; padding: 3pt; }}
</style></head><body>
<img class="logo" src="asset:logo" alt="Acme">
<h1>Arbeidsovereenkomst</h1>
<p>Tussen Acme B.V. en {applicant}.</p>
<table><tr><td>Bruto maandsalaris</td><td>EUR {salary}</td></tr>
<tr><td>Ingangsdatum</td><td>1 maart 2027</td></tr></table>
{articles}
<p>Getekend te Utrecht.</p>
</body></html>"""


def pdf_text(pdf: RenderedPdf | bytes) -> str:
    data = pdf.data if isinstance(pdf, RenderedPdf) else pdf
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def as_dict(value: object) -> DictionaryObject:
    value = value.get_object() if isinstance(value, IndirectObject) else value
    assert isinstance(value, DictionaryObject)
    return value


def as_list(value: object) -> ArrayObject:
    value = value.get_object() if isinstance(value, IndirectObject) else value
    assert isinstance(value, ArrayObject)
    return value


@pytest.fixture(scope="module")
def renderer() -> Iterator[Renderer]:
    with Renderer(TIGHT) as renderer:
        yield renderer


def assert_renders_contract(renderer: Renderer) -> None:
    result = renderer.render(contract_html(), assets={"logo": LOGO}, title="Contract", lang="nl")
    assert "Johanna Verbeek" in pdf_text(result)


# --- a contract ----------------------------------------------------------------------


def test_a_contract_renders_to_pdf_a_with_its_text_footer_logo_and_metadata(
    renderer: Renderer,
) -> None:
    result = renderer.render(
        contract_html(), assets={"logo": LOGO}, title="Arbeidsovereenkomst J. Verbeek", lang="nl"
    )

    reader = PdfReader(io.BytesIO(result.data))
    text = pdf_text(result)
    assert result.pages == len(reader.pages) == 3
    assert "Tussen Acme B.V. en Johanna Verbeek." in text
    assert "EUR 4.250,00" in text
    assert "Pagina 1 van 3" in text and "Pagina 3 van 3" in text
    assert result.refused_urls == ()
    assert re.fullmatch(r"[0-9a-f]{64}", result.sha256)
    first_page = reader.pages[0]
    assert len(first_page.images) == 1  # the logo, served from the organisation's assets
    assert [round(float(x)) for x in first_page.mediabox[2:]] == [595, 842]  # A4 in points

    xmp = reader.xmp_metadata
    assert xmp is not None
    assert (xmp.pdfaid_part, xmp.pdfaid_conformance) == ("3", "B")
    assert xmp.dc_title == {"x-default": "Arbeidsovereenkomst J. Verbeek"}
    assert reader.metadata is not None and reader.metadata.title == "Arbeidsovereenkomst J. Verbeek"
    catalog = as_dict(reader.trailer["/Root"])
    assert str(catalog["/Lang"]) == "nl"
    assert str(as_dict(as_list(catalog["/OutputIntents"])[0])["/S"]) == "/GTS_PDFA1"


def test_every_font_in_the_pdf_is_embedded(renderer: Renderer) -> None:
    result = renderer.render(contract_html(), assets={"logo": LOGO}, title="C", lang="nl")

    fonts = [
        as_dict(font)
        for page in PdfReader(io.BytesIO(result.data)).pages
        for font in as_dict(as_dict(page["/Resources"])["/Font"]).values()
    ]
    assert fonts
    for font in fonts:
        descendants = font.get("/DescendantFonts")
        described = as_dict(as_list(descendants)[0]) if descendants is not None else font
        descriptor = as_dict(described["/FontDescriptor"])
        assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor)


def test_rendering_happens_in_a_child_process_with_an_address_space_limit(
    renderer: Renderer,
) -> None:
    assert_renders_contract(renderer)

    assert renderer.pid is not None and renderer.pid != os.getpid()
    limits = Path(f"/proc/{renderer.pid}/limits").read_text()
    address_space = next(line for line in limits.splitlines() if line.startswith("Max address"))
    assert address_space.split()[3] == str(TIGHT.memory_bytes)


def test_the_child_is_kept_warm_between_renders(renderer: Renderer) -> None:
    assert_renders_contract(renderer)
    pid = renderer.pid

    assert_renders_contract(renderer)

    assert renderer.pid == pid


def test_a_render_is_logged_with_its_size_but_never_its_html(renderer: Renderer) -> None:
    with capture_logs() as logs:
        result = renderer.render(
            contract_html(applicant="Kanarie Geheim"), assets={"logo": LOGO}, title="C", lang="nl"
        )

    [rendered] = [entry for entry in logs if entry["event"] == "pdf.rendered"]
    assert rendered["pages"] == result.pages
    assert rendered["bytes"] == len(result.data)
    assert rendered["ms"] > 0
    assert "Kanarie" not in repr(logs)


def test_render_pdf_uses_one_renderer_per_thread() -> None:
    limits = RenderLimits.from_settings(Settings())
    here = shared_renderer(limits)
    elsewhere: list[Renderer] = []
    thread = threading.Thread(target=lambda: elsewhere.append(shared_renderer(limits)))
    thread.start()
    thread.join()

    result = render_pdf(contract_html(), assets={"logo": LOGO}, limits=limits, title="C", lang="nl")

    assert shared_renderer(limits) is here
    assert elsewhere[0] is not here
    assert result.pages == 3
    assert limits == RenderLimits(
        cpu_seconds=20, memory_bytes=1024 * MB, wall_seconds=30, max_pages=50, max_bytes=10 * MB
    )


def test_one_renderer_serves_threads_one_render_at_a_time(renderer: Renderer) -> None:
    results: list[RenderedPdf] = []

    def render(name: str) -> None:
        results.append(
            renderer.render(
                contract_html(applicant=name), assets={"logo": LOGO}, title="C", lang="nl"
            )
        )

    threads = [threading.Thread(target=render, args=(f"Persoon {n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    names = sorted(name for r in results for name in re.findall(r"Persoon \d", pdf_text(r)))
    assert names == ["Persoon 0", "Persoon 1", "Persoon 2"]


def test_a_closed_renderer_starts_a_new_child_on_the_next_render() -> None:
    with Renderer(TIGHT) as renderer:
        renderer.start()
        pid = renderer.pid
        renderer.close()
        assert renderer.pid is None

        assert_renders_contract(renderer)

        assert renderer.pid not in (None, pid)


def test_a_renderer_whose_child_cannot_start_fails_transiently() -> None:
    limits = RenderLimits(
        cpu_seconds=5, memory_bytes=64 * MB, wall_seconds=5, max_pages=5, max_bytes=MB
    )
    with Renderer(limits) as renderer, pytest.raises(TransientError) as failed:
        renderer.render("<p>Tekst</p>", title="C", lang="nl")

    # A MemoryError, or GLib aborting when it cannot allocate a thread's stack.
    assert str(failed.value).startswith("render process could not start: ")
    assert "64 MB" in str(failed.value)
    assert renderer.pid is None


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["kill -9", "kill"])
def test_a_child_killed_from_outside_mid_render_fails_the_render_transiently(
    signum: signal.Signals,
) -> None:
    # The document is not at fault (an operator, a stop, the machine's OOM killer): the
    # job is retried, and the next render gets a new child.
    limits = RenderLimits(
        cpu_seconds=60, memory_bytes=1024 * MB, wall_seconds=30, max_pages=5, max_bytes=MB
    )
    with Renderer(limits) as renderer:
        renderer.start()
        child = renderer.pid
        assert child is not None
        killer = threading.Timer(0.5, os.kill, args=(child, signum))
        killer.start()

        with pytest.raises(TransientError) as failed:
            renderer.render("<p>Alinea.</p>" * 200_000, title="C", lang="nl")

        killer.join()
        assert not isinstance(failed.value, PermanentError)
        assert signum.name in str(failed.value)
        assert_renders_contract(renderer)
        assert renderer.pid not in (None, child)


# --- hostile documents ---------------------------------------------------------------


def test_a_document_with_too_many_pages_is_refused_after_layout(renderer: Renderer) -> None:
    html = "<p style='break-after: page'>Bladzijde</p>" * 7

    with pytest.raises(RenderFailed) as failed:
        renderer.render(html, title="C", lang="nl")

    assert failed.value.reason == "document has 7 pages, more than the limit of 5"
    assert isinstance(failed.value, PermanentError)
    assert_renders_contract(renderer)


def test_a_pdf_over_the_size_limit_is_refused(renderer: Renderer) -> None:
    photo = Asset("image/png", noise_png(200, 200))

    with pytest.raises(RenderFailed) as failed:
        renderer.render('<img src="asset:photo">', assets={"photo": photo}, title="C", lang="nl")

    assert re.fullmatch(
        r"PDF is \d+ bytes, more than the limit of 60000 bytes", failed.value.reason
    )
    assert_renders_contract(renderer)


def test_a_huge_document_is_stopped_by_the_cpu_limit(renderer: Renderer) -> None:
    html = "<p>Alinea met wat tekst.</p>" * 200_000
    started = time.monotonic()

    with pytest.raises(RenderFailed) as failed:
        renderer.render(html, title="C", lang="nl")

    assert failed.value.reason == "render exceeded its CPU limit (1 s)"
    assert time.monotonic() - started < TIGHT.wall_seconds
    assert_renders_contract(renderer)


def test_the_cpu_limit_holds_for_a_child_started_from_a_thread_with_blocked_signals() -> None:
    # Dramatiq's worker threads may have signals blocked; the child must unblock SIGXCPU.
    outcome: list[BaseException] = []

    def render_with_signals_blocked() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGXCPU, signal.SIGINT, signal.SIGTERM})
        with Renderer(TIGHT) as renderer:
            try:
                renderer.render("<p>Alinea met wat tekst.</p>" * 200_000, title="C", lang="nl")
            except RenderFailed as failed:
                outcome.append(failed)

    thread = threading.Thread(target=render_with_signals_blocked)
    thread.start()
    thread.join()

    assert [str(failed) for failed in outcome] == ["render exceeded its CPU limit (1 s)"]


def test_a_render_that_runs_past_the_wall_clock_limit_is_killed() -> None:
    limits = RenderLimits(
        cpu_seconds=60, memory_bytes=1024 * MB, wall_seconds=1, max_pages=5, max_bytes=MB
    )
    with Renderer(limits) as renderer:
        renderer.start()

        with pytest.raises(RenderFailed) as failed:
            renderer.render("<p>Alinea.</p>" * 200_000, title="C", lang="nl")

        # The wall-clock limit stopped it (the CPU limit of 60 s would say otherwise) ...
        assert failed.value.reason == "render exceeded 1 s"
        # ... and the renderer works again, with a new child. Its first renders load fonts,
        # which on a busy machine alone can take the 1 s this renderer allows: a few tries.
        rendered = None
        for _ in range(5):
            with contextlib.suppress(RenderFailed):
                rendered = renderer.render("<p>Weer aan het werk.</p>", title="W", lang="nl")
                break
        assert rendered is not None
        assert "Weer aan het werk." in pdf_text(rendered)


def test_a_memory_hungry_document_is_stopped_by_the_memory_limit(renderer: Renderer) -> None:
    bomb = Asset("image/png", black_png(12_000, 12_000))  # 1.9 MB; 432 MB decoded

    with pytest.raises(RenderFailed) as failed:
        renderer.render(
            '<img src="asset:bomb" style="width: 2cm">', assets={"bomb": bomb}, title="C", lang="nl"
        )

    assert failed.value.reason == "render ran out of memory (512 MB)"
    assert_renders_contract(renderer)


@pytest.mark.parametrize(
    "css",
    [
        "p { font-size: 1e30px }",
        "p { letter-spacing: 1e20px; word-spacing: 1e20px }",
        "p { width: 1e308px; margin-left: 99999999999999px; padding-top: 1e9px }",
        "@page { size: 1e9px 1e9px }",
        "p { border: 1e12px solid red; line-height: 1e12; text-indent: 1e15px }",
        "body { columns: 10000 } div { height: 1e9px }",
        "p { counter-reset: x 1e30 } p::before { content: counter(x) }",
        "img { width: 1e9px; height: 1e9px }",
    ],
)
def test_css_with_enormous_values_renders_or_fails_cleanly(renderer: Renderer, css: str) -> None:
    html = f"<style>{css}</style><div><p>Tekst</p><img src='asset:logo'></div>"
    started = time.monotonic()

    try:
        result = renderer.render(html, assets={"logo": LOGO}, title="C", lang="nl")
    except RenderFailed as failed:
        assert failed.reason.startswith("WeasyPrint could not render the document: ")
    else:
        assert 1 <= result.pages <= TIGHT.max_pages

    assert time.monotonic() - started < TIGHT.wall_seconds
    assert_renders_contract(renderer)


def _base_fonts(data: bytes) -> set[str]:
    fonts: set[str] = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in as_dict(as_dict(page["/Resources"])["/Font"]).values():
            fonts.add(str(as_dict(font)["/BaseFont"]))
    return fonts


@pytest.mark.parametrize("at_rule", ["@font-face", "@font\\-face", "@f\\6f nt-face"])
def test_a_font_one_document_loads_is_never_offered_to_the_next(
    renderer: Renderer, at_rule: str
) -> None:
    # Given a document that loads a font of its own, however the rule is spelt
    data = base64.b64encode(Path(MONO_FONT).read_bytes()).decode()
    loads = (
        f'<style>{at_rule} {{ font-family: "Loaded"; src: url(data:font/ttf;base64,{data}) }}'
        ' p { font-family: "Loaded" }</style><p>Organisation A</p>'
    )
    assert any(
        "Loaded" in f for f in _base_fonts(renderer.render(loads, title="a", lang="en").data)
    )
    # When the next document (another organisation's, say) asks for that family by name
    asks = '<style>p { font-family: "Loaded", serif }</style><p>Salary 3500</p>'
    fonts = _base_fonts(renderer.render(asks, title="b", lang="en").data)
    # Then it gets a system font, not the one the first document loaded
    assert not any("Loaded" in f for f in fonts), fonts
