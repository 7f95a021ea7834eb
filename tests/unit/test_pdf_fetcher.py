"""The PDF URL fetcher: only data: and asset: URLs; no file or network read (§5 #16)."""

from __future__ import annotations

import io
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote
from urllib.request import Request

import pytest
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject
from structlog.testing import capture_logs

from services.document_worker.fetcher import (
    MAX_LOGGED_REFUSALS,
    MAX_RECORDED_REFUSALS,
    Asset,
    FetchRefusedError,
    LockedFetcher,
)
from services.document_worker.pdf import RenderedPdf, Renderer, RenderFailed, RenderLimits

MB = 1024 * 1024
LIMITS = RenderLimits(
    cpu_seconds=5, memory_bytes=1024 * MB, wall_seconds=10, max_pages=5, max_bytes=MB
)
SVG_TEXT = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40"><text y="30">{}</text></svg>'
)


@pytest.fixture(scope="module")
def renderer() -> Iterator[Renderer]:
    with Renderer(LIMITS) as renderer:
        yield renderer


@pytest.fixture
def canary(tmp_path: Path) -> str:
    return f"CANARY{secrets.token_hex(8).upper()}"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener on a free port: any connection attempt waits in its backlog."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as server:
        server.setblocking(False)
        yield server


def assert_no_connection(listener: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        listener.accept()


def canary_files(directory: Path, canary: str) -> dict[str, str]:
    """Local files that would put ``canary`` into the PDF if WeasyPrint read them."""
    svg = SVG_TEXT.format(canary)
    contents = {
        "img.svg": svg,
        "background.svg": svg,
        "list.svg": svg,
        "content.svg": svg,
        "embed.svg": svg,
        "inline-svg.svg": svg,
        "data-svg.svg": svg,
        "relative.svg": svg,
        "import.css": f'body::after {{ content: "{canary}" }}',
        "stylesheet.css": f'body::before {{ content: "{canary}" }}',
        "link-attachment.txt": canary,
        "a-attachment.txt": canary,
        "font.ttf": canary,
        "svg-font.ttf": canary,
        "object.svg": svg,
        "profile.icc": canary,
    }
    urls = {}
    for name, text in contents.items():
        path = directory / name
        path.write_text(text)
        urls[name] = path.as_uri()
    return urls


def hostile_html(files: dict[str, str], directory: Path, port: int) -> tuple[str, list[str]]:
    local = f"http://127.0.0.1:{port}"
    data_svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="50">'
        f'<image href="{files["data-svg.svg"]}" width="200" height="50"/></svg>'
    )
    html = f"""<!doctype html><html><head>
<style>
@import url({files["import.css"]});
@import url({local}/import.css);
@font-face {{ font-family: Leak; src: url({files["font.ttf"]}); }}
body {{ background: url({files["background.svg"]}); font-family: Leak, sans-serif; }}
ul {{ list-style-image: url({files["list.svg"]}); }}
h1::before {{ content: url({files["content.svg"]}); }}
div.metadata {{ background-image: url(http://169.254.169.254/latest/meta-data/); }}
</style>
<link rel="stylesheet" href="{files["stylesheet.css"]}">
<link rel="stylesheet" href="{local}/stylesheet.css">
<link rel="attachment" href="{files["link-attachment.txt"]}">
<link rel="attachment" href="{local}/attachment.bin">
</head><body>
<h1>Contract</h1>
<img src="{files["img.svg"]}">
<img src="file:///dev/urandom">
<img src="{local}/">
<img src="https://127.0.0.1:{port}/secure.png">
<img src="ftp://127.0.0.1:{port}/file.png">
<img src="http://169.254.169.254/latest/meta-data/">
<embed src="{files["embed.svg"]}" type="image/svg+xml">
<object data="{files["object.svg"]}" type="image/svg+xml"></object>
<ul><li>item</li></ul>
<div class="metadata">metadata</div>
<a rel="attachment" href="{files["a-attachment.txt"]}">bijlage</a>
<svg xmlns="http://www.w3.org/2000/svg" width="200" height="50">
  <style>@font-face {{ font-family: L; src: url({files["svg-font.ttf"]}) }}
  text {{ font-family: L }}</style>
  <image href="{files["inline-svg.svg"]}" width="200" height="50"/><text y="40">svg</text>
</svg>
<img src="data:image/svg+xml,{quote(data_svg)}">
</body></html>"""
    expected = [
        *files.values(),
        "file:///dev/urandom",
        f"{local}/",
        f"{local}/import.css",
        f"{local}/stylesheet.css",
        f"{local}/attachment.bin",
        f"https://127.0.0.1:{port}/secure.png",
        f"ftp://127.0.0.1:{port}/file.png",
        "http://169.254.169.254/latest/meta-data/",
    ]
    # Each tested on its own below.
    expected.remove(files["relative.svg"])
    expected.remove(files["profile.icc"])
    return html, expected


def assert_renders_contract_like(renderer: Renderer) -> None:
    result = renderer.render("<h1>Contract</h1><p>Tekst</p>", title="C", lang="nl")
    assert result.pages == 1 and result.refused_urls == ()


def every_decoded_stream(pdf: bytes) -> Iterator[bytes]:
    """The raw file, then every stream reachable from the trailer, inflated."""
    yield pdf
    reader = PdfReader(io.BytesIO(pdf))
    seen: set[int] = set()
    stack: list[Any] = [reader.trailer]
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            if item.idnum in seen:
                continue
            seen.add(item.idnum)
            item = item.get_object()
        if isinstance(item, StreamObject):
            yield item.get_data()
        if isinstance(item, DictionaryObject):
            stack.extend(value for key, value in item.items() if key != "/Parent")
        elif isinstance(item, ArrayObject):
            stack.extend(item)


def assert_no_canary_and_no_attachment(result: RenderedPdf, canary: str) -> None:
    for stream in every_decoded_stream(result.data):
        assert canary.encode() not in stream
        assert canary.encode("utf-16-be") not in stream
    reader = PdfReader(io.BytesIO(result.data))
    assert canary not in "".join(page.extract_text() for page in reader.pages)
    assert reader.attachments == {}
    catalog = reader.root_object
    assert "/AF" not in catalog
    names = catalog.get("/Names")
    assert names is None or "/EmbeddedFiles" not in names.get_object()
    for page in reader.pages:
        for annotation in page.annotations or []:
            assert annotation.get_object()["/Subtype"] != "/FileAttachment"


# --- the catalogue, through the child process ---------------------------------------


def test_no_hostile_url_is_fetched_and_no_canary_reaches_the_pdf(
    renderer: Renderer, tmp_path: Path, canary: str, listener: socket.socket
) -> None:
    files = canary_files(tmp_path, canary)
    html, expected = hostile_html(files, tmp_path, listener.getsockname()[1])

    with capture_logs() as logs:
        result = renderer.render(html, title="Contract", lang="nl")

    assert result.pages >= 1
    assert "Contract" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(result.data)).pages)
    missing = [url for url in expected if url not in result.refused_urls]
    assert missing == []
    assert all(url.startswith(("file:", "http:", "https:", "ftp:")) for url in result.refused_urls)
    assert_no_connection(listener)
    assert_no_canary_and_no_attachment(result, canary)
    refusals = [entry for entry in logs if entry["event"] == "pdf.fetch_refused"]
    assert {entry["url"] for entry in refusals} >= set(expected) - {
        u for u in expected if len(u) > 120
    }
    assert {entry["scheme"] for entry in refusals} == {"file", "http", "https", "ftp"}
    assert canary not in repr(logs)


def test_a_base_element_cannot_turn_relative_urls_into_local_files(
    renderer: Renderer, tmp_path: Path, canary: str
) -> None:
    files = canary_files(tmp_path, canary)
    html = f'<base href="{tmp_path.as_uri()}/"><p>Tekst</p><img src="relative.svg">'

    result = renderer.render(html, title="C", lang="nl")

    assert result.refused_urls == (files["relative.svg"],)
    assert_no_canary_and_no_attachment(result, canary)


def test_a_base_element_cannot_turn_relative_urls_into_requests(
    renderer: Renderer, listener: socket.socket
) -> None:
    base = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    html = f'<base href="{base}"><link rel="stylesheet" href="style.css"><img src="logo.png">'

    result = renderer.render(html, title="C", lang="nl")

    assert set(result.refused_urls) == {f"{base}style.css", f"{base}logo.png"}
    assert_no_connection(listener)


def test_a_refused_colour_profile_fails_the_render_without_reading_the_file(
    renderer: Renderer, tmp_path: Path, canary: str
) -> None:
    # WeasyPrint lets a failed @color-profile fetch stop the render; no read happens.
    files = canary_files(tmp_path, canary)
    html = f"<style>@color-profile --leak {{ src: url({files['profile.icc']}) }}</style><p>x</p>"

    with pytest.raises(RenderFailed) as failed:
        renderer.render(html, title="C", lang="nl")

    assert failed.value.reason.startswith("WeasyPrint could not render the document: ")
    assert failed.value.refused_urls == (files["profile.icc"],)
    assert canary not in failed.value.reason
    assert_renders_contract_like(renderer)


def test_the_catalogue_would_leak_the_canary_with_weasyprints_default_fetcher(
    tmp_path: Path, canary: str
) -> None:
    # Control: proves the catalogue above detects a leak (local files only, in-process).
    from weasyprint import HTML

    files = canary_files(tmp_path, canary)
    html = (
        f'<link rel="attachment" href="{files["link-attachment.txt"]}">'
        f'<link rel="stylesheet" href="{files["stylesheet.css"]}"><img src="{files["img.svg"]}">'
    )

    pdf = HTML(string=html).write_pdf()

    assert PdfReader(io.BytesIO(pdf)).attachments == {"link-attachment.txt": [canary.encode()]}
    assert any(canary.encode() in stream for stream in every_decoded_stream(pdf))


def test_data_and_asset_urls_are_served_in_the_child(renderer: Renderer) -> None:
    svg = SVG_TEXT.format("Servedtext")
    html = (
        '<link rel="stylesheet" href="asset:style">'
        f'<img src="data:image/svg+xml,{quote(svg)}"><p class="x">Tekst</p>'
    )
    style = Asset("text/css", b'p.x::after { content: " uit asset" }')

    result = renderer.render(html, assets={"style": style}, title="C", lang="nl")

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(result.data)).pages)
    assert "Servedtext" in text
    assert "Tekst uit asset" in text
    assert result.refused_urls == ()


# --- the fetcher on its own ----------------------------------------------------------


def test_the_fetcher_serves_a_data_url() -> None:
    fetcher = LockedFetcher({})

    response = fetcher.fetch("data:text/css;charset=utf-8,p%20%7B%7D")

    assert response.read() == b"p {}"
    assert response.content_type == "text/css"
    assert fetcher.refused == []


def test_the_fetcher_serves_a_base64_data_url() -> None:
    response = LockedFetcher({}).fetch("data:image/png;base64,iVBORw0KGgo=")

    assert response.read() == b"\x89PNG\r\n\x1a\n"
    assert response.content_type == "image/png"


def test_the_fetcher_serves_an_organisation_asset() -> None:
    fetcher = LockedFetcher({"logo mark": Asset("image/png", b"\x89PNG...")})

    response = fetcher.fetch("asset:logo%20mark")

    assert response.read() == b"\x89PNG..."
    assert response.content_type == "image/png"


def test_the_fetcher_refuses_an_unknown_asset() -> None:
    fetcher = LockedFetcher({"logo": Asset("image/png", b"")})

    with pytest.raises(FetchRefusedError):
        fetcher.fetch("asset:other")

    assert fetcher.refused == ["asset:other"]


def test_the_fetcher_refuses_a_data_url_over_its_cap() -> None:
    fetcher = LockedFetcher({}, max_data_bytes=1000)
    fetcher.fetch("data:text/plain," + "a" * 1000)

    with capture_logs() as logs:
        with pytest.raises(FetchRefusedError):
            fetcher.fetch("data:text/plain," + "a" * 1001)
        with pytest.raises(FetchRefusedError):
            fetcher.fetch("data:text/plain;base64," + "YWFh" * 400)

    assert len(fetcher.refused) == 2
    assert [entry["url"] for entry in logs] == [
        "data:text/plain,…(1017 chars)",
        "data:text/plain;base64,…(1623 chars)",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "http://127.0.0.1:15672/",
        "https://example.org/",
        "ftp://example.org/x",
        "http://169.254.169.254/latest/meta-data/",
        "gopher://127.0.0.1:6379/_INFO",
        "jar:file:///x.zip!/y",
        "/etc/passwd",
        "",
    ],
)
def test_the_fetcher_refuses_every_other_url(url: str) -> None:
    fetcher = LockedFetcher({})

    with capture_logs() as logs, pytest.raises(FetchRefusedError):
        fetcher.fetch(url)

    assert fetcher.refused == [url]
    assert logs[0]["event"] == "pdf.fetch_refused"
    assert logs[0]["url"] == url
    assert logs[0]["scheme"] == (url.split(":")[0].lower() if ":" in url else None)


def test_the_fetcher_refuses_through_the_urllib_entry_points_too() -> None:
    fetcher = LockedFetcher({})

    with pytest.raises(FetchRefusedError):
        fetcher.open(Request("file:///etc/passwd"))  # noqa: S310 - it must refuse
    with pytest.raises(FetchRefusedError):
        fetcher("http://127.0.0.1:1/")

    assert fetcher.refused == ["file:///etc/passwd", "http://127.0.0.1:1/"]
    assert fetcher.handlers == []


def test_the_fetcher_counts_every_refusal_but_bounds_what_it_keeps_and_logs() -> None:
    fetcher = LockedFetcher({})

    with capture_logs() as logs:
        for n in range(MAX_RECORDED_REFUSALS + 5):
            with pytest.raises(FetchRefusedError):
                fetcher.fetch(f"file:///tmp/{n}")

    assert fetcher.refusals == MAX_RECORDED_REFUSALS + 5
    assert len(fetcher.refused) == MAX_RECORDED_REFUSALS
    assert len(logs) == MAX_LOGGED_REFUSALS
