"""What one template operation costs at its limits: ``python bench/template_limits.py``.

Each case renders, in the sandbox, the most expensive thing a template may still do with
one operation (or fills one part of the budget), and prints the CPU time it took (best of
three) and its peak of Python memory (tracemalloc). The email steps after the render that
run in Rust, CSS inlining and sanitising, are measured at the largest HTML the inlining
bound lets through, by the process's peak resident size (``VmHWM``, reset first).
Last, the CPU that ``render_email`` takes for an ordinary receipt (best of 15 x 200).
The figures go into ``docs/architecture.md`` ("Template budget").
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import timeit
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make ``shared`` importable
    sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402

from shared.emails.builtin import builtin_template_set  # noqa: E402
from shared.emails.inlining import INLINER, MAX_INLINED_CHARS, inlined_size  # noqa: E402
from shared.emails.purposes import sample_context  # noqa: E402
from shared.emails.rendering import render_email  # noqa: E402
from shared.emails.sanitising import STYLE_PROPERTIES, sanitised  # noqa: E402
from shared.templates.problems import TemplateProblem  # noqa: E402
from shared.templates.sandbox import check, render  # noqa: E402

NAME = "Ann-Émilie O'Brien"  # non-ASCII: two bytes a character
# Twenty properties the sanitiser keeps, each with a long value.
_PROPERTIES = sorted(STYLE_PROPERTIES)[:20]
_VALUE = "Arial, Helvetica, sans-serif, serif"
_ELEMENT = '<p class="c">A line of text, é</p>'
CASES: list[tuple[str, str]] = [
    ("center to 100,000", "{{ (x|center(100000))|length }}"),
    ("replace to 99,000", "{{ ('a' * 33000)|replace('a', 'bb')|length }}"),
    ("wordwrap(1) of 1,000", "{{ ('a' * 1000)|wordwrap(1)|length }}"),
    ("wordwrap(20) of 20,000", "{{ ('a' * 20000)|wordwrap(20)|length }}"),
    ("wordwrap(79) of 20,000 in words", "{{ ('abcd ' * 4000)|wordwrap(79)|length }}"),
    ("urlize of 10,000", "{{ ('www.a.bc ' * 1111)|urlize|length }}"),
    ("striptags of 100,000 '<'", "{{ ('<' * 100000)|striptags|length }}"),
    ("title of 50,000", "{{ ('a-' * 25000)|title|length }}"),
    ("escape to 100,000", "{{ ('\"' * 20000)|e|length }}"),
    ("urlencode of 8,333 emoji", "{{ ('😀' * 8333)|urlencode|length }}"),
    ("tojson of 8,333 emoji", "{{ ('😀' * 8333)|tojson|length }}"),
    ("indent to 100,000", "{{ ('a\\n' * 24000)|indent(1, true, true)|length }}"),
    ("|format, 60 widths of 1,000", "{{ ('%1000s' * 60)|format(*range(60))|length }}"),
    ("str.format, 60 widths of 1,000", "{{ ('{0:>1000}' * 60).format(1)|length }}"),
    ("join of 10,000", "{{ range(10000)|join(' ')|length }}"),
    ("split into 10,000", "{{ ('ab ' * 9999).split(' ')|length }}"),
    ("sort of 10,000 words", "{{ ('b a ' * 4999).split(' ')|sort|length }}"),
    ("list of 10,000 '€'", "{{ ('€' * 10000)|list|length }}"),
    ("~ to 99,980", "{{ ((x|center(49990)) ~ (x|center(49990)))|length }}"),
    ("10,000 loop items written", "{% for i in range(10000) %}{{ i }}{% endfor %}"),
    (
        "5,000 macro calls",
        "{% macro m(i) %}{{ i }}{% endmacro %}{% for i in range(5000) %}{{ m(i) }}{% endfor %}",
    ),
    ("the 4 MB budget filled", "{% for i in range(100) %}{{ (x|center(100000))[:1] }}{% endfor %}"),
    ("10,000 operations", "{% for i in range(5000) %}{{ i|abs }}{{ i|abs }}{% endfor %}"),
]


# Checked and compiled the first time a process sees them: the largest shapes allowed.
SHAPES: list[tuple[str, str]] = [
    ("check+compile 499 {{ x }}", "{{ x }}" * 499),
    ("check+compile 249 {% if %}", "{% if x %}y{% endif %}" * 249),
    ("check+compile 64 KB of text", "t" * (64 * 1024 - 100)),
]
_SEEN = iter(range(1_000_000))


def _checking(source: str) -> Callable[[], object]:
    def run() -> object:
        # A new comment each time, so that no cache has seen this source.
        return check(f"{source}{{# {next(_SEEN)} #}}", html=True, allowed_variables={"x"})

    return run


def _cpu_ms(run: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.thread_time()
        run()
        best = min(best, time.thread_time() - started)
    return best * 1000


def _peak_mb(run: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def _rss_peak_mb(step: str, elements: int) -> float:
    """The peak of resident memory above the start of ``step`` (``inline`` or
    ``sanitise``) on ``elements`` paragraphs, run once in a fresh process after a
    warm-up on a small document."""
    done = subprocess.run(
        [sys.executable, __file__, step, str(elements)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout)


def _one_step(step: str, elements: int) -> None:
    """In the child process of :func:`_rss_peak_mb`: the step's input built in one go,
    not by running anything the process would keep the memory of."""
    if step == "inline":
        html = _stylesheet() + _ELEMENT * elements
    else:  # what css_inline makes of it, written directly
        style = ";".join(f"{name}: {_VALUE}" for name in _PROPERTIES)
        html = _ELEMENT.replace('class="c"', f'class="c" style="{style}"') * elements
    sanitised(INLINER.inline("<style>p { color: red }</style><p>warm</p>"), lang="nl")
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kb("VmRSS")
    if step == "inline":
        INLINER.inline(html)
    else:
        sanitised(html, lang="nl")
    print((_status_kb("VmHWM") - before) / 1024)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def _rendering(source: str) -> Callable[[], str]:
    template = check(source, html=True, allowed_variables={"x"})

    def run() -> str:
        try:
            return render(template, {"x": NAME})
        except TemplateProblem as problem:  # a budget case ends at its limit
            return problem.message

    return run


def _stylesheet() -> str:
    return (
        "<style>" + "".join(f"p, td {{ {name}: {_VALUE}; }}" for name in _PROPERTIES) + "</style>"
    )


def _most_elements() -> int:
    """How many paragraphs an email with :func:`_stylesheet` may have: the inlining
    bound's largest (a binary search)."""
    low, high = 1, 100_000
    while low < high:
        middle = (low + high + 1) // 2
        if inlined_size(_stylesheet() + _ELEMENT * middle) <= MAX_INLINED_CHARS:
            low = middle
        else:
            high = middle - 1
    return low


def main() -> None:
    print(f"{'case':40} {'CPU ms':>8} {'peak MB':>8}  result")
    # The Rust steps, each in a fresh process for its peak of resident memory.
    elements = _most_elements()
    html = _stylesheet() + _ELEMENT * elements
    inlined = INLINER.inline(html)
    for label, name, step in (
        (
            f"css_inline of {len(html):,} -> {len(inlined):,}",
            "inline",
            lambda: INLINER.inline(html),
        ),
        (f"sanitise {len(inlined):,}", "sanitise", lambda: sanitised(inlined, lang="nl")),
    ):
        peak = _rss_peak_mb(name, elements)
        print(f"{label:40} {_cpu_ms(step):8.1f} {peak:8.2f}  (resident, fresh process)")
    for label, source in CASES:
        run = _rendering(source)
        result = run()
        print(f"{label:40} {_cpu_ms(run):8.1f} {_peak_mb(run):8.2f}  {result[:60]!r}")
    for label, source in SHAPES:
        check_once = _checking(source)
        print(f"{label:40} {_cpu_ms(check_once):8.1f} {_peak_mb(check_once):8.2f}")
    _emails()


def _emails() -> None:
    """What the bounds cost an ordinary email: the receipt, built-in (sent as it is) and
    the same sources as an organisation's template (CSS inlined and sanitised)."""
    context = sample_context("receipt", "nl")
    own = builtin_template_set("receipt", "nl")
    emails: list[tuple[str, Callable[[], object]]] = [
        ("render_email, built-in receipt", lambda: render_email("receipt", "nl", context)),
        (
            "render_email, organisation's receipt",
            lambda: render_email("receipt", "nl", context, override=own),
        ),
    ]
    for label, run in emails:
        run()
        timer = timeit.Timer(run, timer=time.thread_time)
        best = min(timer.timeit(number=200) / 200 for _ in range(15))
        print(f"{label:40} {best * 1000:8.3f}  (ms)")


if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if len(sys.argv) > 1:
        _one_step(sys.argv[1], int(sys.argv[2]))
    else:
        main()
