"""Untrusted HTML to PDF/A-3b in a warm child process with OS limits.

WeasyPrint runs in a child started with ``spawn`` (never forked from the threaded
worker): ``RLIMIT_AS`` caps its memory, a per-render ``RLIMIT_CPU`` its CPU time, and
the parent kills it after ``wall_seconds``. The page count is checked after layout and
the size after writing. A dead child is replaced on the next request. Resources are
loaded only through :class:`~services.document_worker.fetcher.LockedFetcher`.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import logging
import math
import multiprocessing
import resource
import signal
import threading
import time
import warnings
import weakref
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import structlog
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from services.document_worker.fetcher import Asset, LockedFetcher
from shared.errors import PermanentError, TransientError

if TYPE_CHECKING:
    from shared.settings import Settings

log = structlog.get_logger(__name__)

PDF_VARIANT = "pdf/a-3b"
NO_ASSETS: Mapping[str, Asset] = MappingProxyType({})
START_TIMEOUT_SECONDS = 60.0
_MB = 1024 * 1024
# Exit codes of a child stopped by a signal that no limit of ours sends.
_STOPPED_FROM_OUTSIDE = frozenset({-signal.SIGKILL, -signal.SIGTERM})
_WARM_UP_HTML = "<html lang='en'><title>warm-up</title><p>Warm-up 1 2 3 € é</p></html>"


@dataclass(frozen=True)
class RenderLimits:
    cpu_seconds: int
    memory_bytes: int
    wall_seconds: float
    max_pages: int
    max_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RenderLimits:
        return cls(
            cpu_seconds=settings.pdf_cpu_seconds,
            memory_bytes=settings.pdf_memory_mb * _MB,
            wall_seconds=settings.pdf_wall_seconds,
            max_pages=settings.pdf_max_pages,
            max_bytes=settings.pdf_max_bytes,
        )


@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    pages: int
    refused_urls: tuple[str, ...]
    sha256: str


class RenderFailed(PermanentError):  # noqa: N818 - an outcome the actors report
    """The document could not be rendered within its limits; ``reason`` says why."""

    def __init__(self, reason: str, refused_urls: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused_urls = refused_urls


def render_pdf(
    html: str,
    *,
    assets: Mapping[str, Asset] = NO_ASSETS,
    limits: RenderLimits,
    title: str,
    lang: str,
    stylesheet: str = "",
) -> RenderedPdf:
    """Render ``html`` with this thread's :func:`shared_renderer`."""
    return shared_renderer(limits).render(
        html, assets=assets, title=title, lang=lang, stylesheet=stylesheet
    )


# --- parent side ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    html: str
    assets: dict[str, Asset]
    title: str
    lang: str
    cpu_seconds: int
    max_pages: int
    max_bytes: int
    # Our own page stylesheet, parsed once per child and kept (see _stylesheet).
    stylesheet: str = ""


@dataclass(frozen=True)
class _Reply:
    pdf: RenderedPdf | None = None
    failure: str | None = None
    refused_urls: tuple[str, ...] = ()
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # The child exits after this reply (its heap is not trusted after a MemoryError).
    fatal: bool = False


class Renderer:
    """One warm child process; one render at a time (thread-safe)."""

    def __init__(
        self, limits: RenderLimits, *, start_timeout: float = START_TIMEOUT_SECONDS
    ) -> None:
        self.limits = limits
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        _RENDERERS.add(self)

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The child's process id, or ``None`` before the first render or after a failure."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the child now rather than on the first render (TransientError if it cannot)."""
        with self._lock:
            self._ensure_child()

    def render(
        self,
        html: str,
        *,
        assets: Mapping[str, Asset] = NO_ASSETS,
        title: str,
        lang: str,
        stylesheet: str = "",
    ) -> RenderedPdf:
        """``stylesheet`` is trusted CSS that many documents share (our page frame): the
        child parses it once. Anything a template writes belongs in ``html``."""
        request = _Request(
            html=html,
            assets=dict(assets),
            title=title,
            lang=lang,
            cpu_seconds=self.limits.cpu_seconds,
            max_pages=self.limits.max_pages,
            max_bytes=self.limits.max_bytes,
            stylesheet=stylesheet,
        )
        started = time.perf_counter()
        try:
            with self._lock:
                reply = self._exchange(request)
        except RenderFailed as exc:
            log.warning("pdf.render_failed", reason=exc.reason)
            raise
        for method, event in reply.events:
            getattr(log, method, log.warning)(**event)
        if reply.pdf is None:
            reason = reply.failure or "render failed"
            log.warning("pdf.render_failed", reason=reason, refused=len(reply.refused_urls))
            raise RenderFailed(reason, reply.refused_urls)
        log.info(
            "pdf.rendered",
            pages=reply.pdf.pages,
            bytes=len(reply.pdf.data),
            ms=round((time.perf_counter() - started) * 1000, 1),
            refused=len(reply.pdf.refused_urls),
        )
        return reply.pdf

    def close(self) -> None:
        """Stop the child. The renderer stays usable: the next render starts a new one."""
        with self._lock:
            self._stop()

    def _exchange(self, request: _Request) -> _Reply:
        conn = self._ensure_child()
        try:
            conn.send(request)
        except OSError:
            raise self._died() from None
        if not conn.poll(self.limits.wall_seconds):
            self._kill()
            raise RenderFailed(f"render exceeded {self.limits.wall_seconds:g} s")
        try:
            reply: _Reply = conn.recv()
        except (EOFError, OSError):
            raise self._died() from None
        if reply.fatal:
            self._kill()
        return reply

    def _died(self) -> Exception:
        """Why the child died under a render, as the error for the job: killed from
        outside (``kill``, a stop, the kernel's OOM killer under the machine's memory
        pressure) says nothing of the document, so the job is retried; any other death
        (a crash, a limit) fails it."""
        process = self._process
        if process is not None:
            process.join(5)
        stopped = process is not None and process.exitcode in _STOPPED_FROM_OUTSIDE
        reason = self._death_reason()
        self._kill()
        if stopped:
            return TransientError(f"{reason}; tried again")
        return RenderFailed(reason)

    def _ensure_child(self) -> Connection:
        if self._process is not None and self._conn is not None:
            if self._process.is_alive():
                return self._conn
            self._kill()
        context = multiprocessing.get_context("spawn")
        parent_conn, child_conn = context.Pipe()
        process = context.Process(
            target=_child_main,
            args=(child_conn, self.limits.memory_bytes),
            name="pdf-renderer",
            daemon=True,
        )
        process.start()
        child_conn.close()
        self._process, self._conn = process, parent_conn
        ready: str | None = f"no answer in {self.start_timeout:g} s"
        try:
            if parent_conn.poll(self.start_timeout):
                ready = parent_conn.recv()
        except (EOFError, OSError):
            ready = self._death_reason()
        if ready is not None:
            self._kill()
            # Not the document's fault: retried, unlike RenderFailed.
            raise TransientError(f"render process could not start: {ready}")
        log.debug("pdf.renderer_started", pid=process.pid)
        return parent_conn

    def _death_reason(self) -> str:
        process = self._process
        if process is None:
            return "render process is gone"
        process.join(5)
        code = process.exitcode
        if code == -signal.SIGXCPU:
            return f"render exceeded its CPU limit ({self.limits.cpu_seconds} s)"
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return (
                f"render process died of {name}"
                f" (out of memory? the limit is {self.limits.memory_bytes // _MB} MB)"
            )
        return f"render process exited unexpectedly (exit code {code})"

    def _kill(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is not None:
            process.kill()
            process.join(5)
        if conn is not None:
            conn.close()

    def _stop(self) -> None:
        process, conn = self._process, self._conn
        if process is None or conn is None:
            return
        try:
            conn.send(None)
            process.join(2)
        except OSError:
            pass
        self._kill()


_RENDERERS: weakref.WeakSet[Renderer] = weakref.WeakSet()
_THREAD = threading.local()


def shared_renderer(limits: RenderLimits) -> Renderer:
    """This thread's renderer for ``limits`` (a new one if the limits changed)."""
    renderer: Renderer | None = getattr(_THREAD, "renderer", None)
    if renderer is None or renderer.limits != limits:
        if renderer is not None:
            renderer.close()
        renderer = _THREAD.renderer = Renderer(limits)
    return renderer


@atexit.register
def close_all() -> None:
    """Stop every renderer's child process."""
    for renderer in list(_RENDERERS):
        renderer.close()


# --- child side ----------------------------------------------------------------------

_EVENTS: list[tuple[str, dict[str, Any]]] = []


def _child_main(conn: Connection, memory_bytes: int) -> None:
    # The worker may have blocked signals in the thread that spawned us; SIGXCPU must
    # kill, and Ctrl-C is for the parent to handle.
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    hard_as = _hard(resource.RLIMIT_AS)
    if hard_as != resource.RLIM_INFINITY:
        memory_bytes = min(memory_bytes, hard_as)
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, hard_as))
    # No document text or URL leaves through WeasyPrint's logging or warnings; the
    # fetcher's structlog events go back to the parent with the reply.
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    structlog.configure(
        processors=[_capture_event],
        logger_factory=structlog.ReturnLoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=True,
    )
    try:
        warm_up = _render(_Request(_WARM_UP_HTML, {}, "warm-up", "en", 60, 1, 1 << 30))
    except MemoryError:
        conn.send(f"its memory limit ({memory_bytes // _MB} MB) is too small")
        return
    conn.send(warm_up.failure)
    if warm_up.failure is not None:
        return
    while True:
        try:
            request: _Request | None = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        _EVENTS.clear()
        _limit_cpu(request.cpu_seconds)
        try:
            reply = _render(request)
        except MemoryError:
            reply = _Reply(
                failure=f"render ran out of memory ({memory_bytes // _MB} MB)", fatal=True
            )
        _limit_cpu(None)
        conn.send(dataclasses.replace(reply, events=list(_EVENTS)))
        if reply.fatal:
            return


# What makes a render faster than WeasyPrint's defaults (docs/benchmarks.md): a font
# configuration kept for the child's life (fontconfig set up once, not per document)
# and our stylesheet parsed once. Neither may carry one document's data into another:
# when a document loaded a font of its own (@font-face, however it was spelt or
# wherever the rule came from), the configuration is thrown away after that render, so
# no font one organisation loaded is ever offered to another's. Images are never
# cached across documents ("asset:logo" is a different image for every organisation).
class _Fonts(FontConfiguration):  # type: ignore[misc]  # weasyprint has no type hints
    """A font configuration that remembers whether a document added fonts to it."""

    declared = False

    def add_font_face(self, rule_descriptors: Any, url_fetcher: Any) -> Any:
        self.declared = True
        return super().add_font_face(rule_descriptors, url_fetcher)


_FONTS: list[_Fonts] = []
_STYLESHEETS: dict[str, CSS] = {}
_MAX_STYLESHEETS = 16


def _fonts() -> _Fonts:
    if not _FONTS:
        _FONTS.append(_Fonts())
    return _FONTS[0]


def _forget_declared_fonts() -> None:
    """After a render: drop the configuration (and what was parsed with it) if the
    document added fonts to it."""
    if _FONTS and _FONTS[0].declared:
        _FONTS.clear()
        _STYLESHEETS.clear()


def _stylesheet(source: str) -> list[CSS]:
    if not source:
        return []
    if source not in _STYLESHEETS:
        if len(_STYLESHEETS) >= _MAX_STYLESHEETS:
            _STYLESHEETS.clear()
        _STYLESHEETS[source] = CSS(string=source, font_config=_fonts())
    return [_STYLESHEETS[source]]


def _render(request: _Request) -> _Reply:
    try:
        return _render_once(request)
    finally:
        _forget_declared_fonts()


def _render_once(request: _Request) -> _Reply:
    fetcher = LockedFetcher(request.assets)
    options = {"pdf_variant": PDF_VARIANT}
    try:
        document = HTML(string=request.html, url_fetcher=fetcher).render(
            font_config=_fonts(), stylesheets=_stylesheet(request.stylesheet), **options
        )
        pages = len(document.pages)
        if pages > request.max_pages:
            return _Reply(
                failure=f"document has {pages} pages, more than the limit of {request.max_pages}",
                refused_urls=_unique(fetcher.refused),
            )
        document.metadata.title = request.title
        document.metadata.lang = request.lang
        data: bytes = document.write_pdf(**options)
    except MemoryError:
        raise
    except Exception as exc:
        return _Reply(
            failure=f"WeasyPrint could not render the document: {type(exc).__name__}: {exc}"[:300],
            refused_urls=_unique(fetcher.refused),
        )
    refused = _unique(fetcher.refused)
    if len(data) > request.max_bytes:
        return _Reply(
            failure=f"PDF is {len(data)} bytes, more than the limit of {request.max_bytes} bytes",
            refused_urls=refused,
        )
    sha256 = hashlib.sha256(data).hexdigest()
    return _Reply(pdf=RenderedPdf(data, pages, refused, sha256), refused_urls=refused)


def _limit_cpu(budget: int | None) -> None:
    """Per-render CPU budget: RLIMIT_CPU counts the process's whole life, so add to it."""
    hard = _hard(resource.RLIMIT_CPU)
    if budget is None:
        soft = hard
    else:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(usage.ru_utime + usage.ru_stime) + budget
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _hard(limit: int) -> int:
    return resource.getrlimit(limit)[1]


def _unique(urls: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(urls))


def _capture_event(_logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
    _EVENTS.append((method, dict(event_dict)))
    raise structlog.DropEvent
