"""Organisation templates: the attack catalogue is refused when saved or stopped at render."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from shared.templates.sandbox import TemplateProblem, check, render, trusted

ALLOWED = {"applicant_name", "vacancy_title", "items"}


def _render(source: str, **context: object) -> str:
    return render(check(source, html=True, allowed_variables=ALLOWED), context)


def test_a_good_template_renders_with_html_escaped() -> None:
    output = _render(
        "Dear {{ applicant_name }}, about {{ vacancy_title }}: {{ items|join(', ') }}",
        applicant_name="<b>Ann</b>",
        vacancy_title="Nurse",
        items=["a", "b"],
    )
    assert output == "Dear &lt;b&gt;Ann&lt;/b&gt;, about Nurse: a, b"


def test_plain_text_templates_are_not_escaped() -> None:
    template = check("Dear {{ applicant_name }}", html=False, allowed_variables=ALLOWED)
    assert render(template, {"applicant_name": "Ann & Bob"}) == "Dear Ann & Bob"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% include '/etc/passwd' %}", "'include' is not allowed"),
        ("{% import 'x' as y %}", "'import' is not allowed"),
        ("{% extends 'base' %}", "'extends' is not allowed"),
        ("{{ 'a'|center(100000000) }}", "numbers above 100000"),
        ("{{ secret_token }}", "unknown variable(s): secret_token"),
        ("{{ cycler.__init__.__globals__ }}", "unknown variable(s): cycler"),
        ("Hello\n{% if %}", "line 2"),
        ("x" * (64 * 1024 + 1), "larger than 64 KB"),
    ],
)
def test_a_dangerous_or_broken_template_is_refused_when_saved(source: str, message: str) -> None:
    with pytest.raises(TemplateProblem) as refused:
        check(source, html=True, allowed_variables=ALLOWED)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ ''.__class__.__mro__ }}", "unsafe"),
        ("{{ ('{0.__class__}'|attr('format'))(1) }}", "unsafe"),
        ("{{ 'a' * 100000 * 1000 }}", "too large"),
        ("{{ 10 ** 10 ** 8 }}", "** operator"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "longer than",
        ),
        (  # whichever limit comes first on a loaded machine: output size or time
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            "|",
        ),
        ("{{ range(100001) }}", "numbers above"),
    ],
)
def test_an_attack_that_passes_the_check_is_stopped_at_render_within_two_seconds(
    source: str, message: str
) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateProblem) as stopped:
        _render(source)
    if message == "|":
        assert "output is larger" in str(stopped.value) or "longer than" in str(stopped.value)
    else:
        assert message in str(stopped.value)
    assert time.monotonic() - started < 4  # generous: the limit is 2 s, the machine is noisy


def test_a_trusted_template_renders_without_the_deadline_an_organisations_has() -> None:
    # Given a template whose loop outlasts a (tiny) deadline
    source = "{% for i in range(100000) %}{% endfor %}done"
    looping = check(source, html=False, allowed_variables=())
    organisations = replace(looping, max_render_seconds=0.001)

    # Then an organisation's copy is stopped, and werving's own runs to the end
    with pytest.raises(TemplateProblem, match="longer than"):
        render(organisations, {})
    assert render(trusted(organisations), {}) == "done"


def test_no_template_can_read_a_local_file(tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("canary-file-content")
    for source in (
        f"{{% include '{canary}' %}}",
        f"{{{{ '{canary}'|attr('read') }}}}",
        "{{ self._TemplateReference__context }}",
    ):
        try:
            output = _render(source)
        except TemplateProblem:
            continue
        assert "canary-file-content" not in output
