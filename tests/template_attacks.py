"""Templates that try to exhaust the machine, for the sandbox's tests at every level.

Each attack is refused when its template is saved (``stage="save"``), or, when the save's
render with sample values does not reach it, stopped when it renders with real values
(``stage="render"``); ``message`` is part of the refusal. ``prelude`` (macros, ``set``)
comes before the branch that hides the attack: Jinja2's check of a template's variables
takes a name set inside an ``if`` for one the template needs from outside. They use only
the variables of every purpose (``receipt``'s), so the same catalogue runs through
``check`` and ``render``, the preview routes, and a real mail_worker.

:func:`hidden` puts an attack behind a branch that the sample values never take, as an
organisation that wanted to pass the check at save would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

SAMPLE_NAME: Final = "Sanne de Vries"  # shared.emails.purposes.sample_context's applicant


@dataclass(frozen=True, slots=True)
class Attack:
    id: str
    source: str
    stage: Literal["save", "render"]
    message: str
    prelude: str = ""

    @property
    def template(self) -> str:
        """The attack as it runs when previewed: nothing hides it."""
        return self.prelude + self.source

    @property
    def lines(self) -> frozenset[int]:
        """The lines of :attr:`hidden` a problem may be found on: the attack's, or the
        prelude's (line 1) where a macro it calls does the work."""
        line = self.hidden[: self.hidden.index(self.source)].count("\n") + 1
        return frozenset({line, 1} if self.prelude else {line})

    @property
    def hidden(self) -> str:
        """The attack in a branch the sample values (the check at save) do not take, after
        a greeting that they do (an empty email is refused)."""
        branch = f"{{% if applicant_name != '{SAMPLE_NAME}' %}}{self.source}{{% endif %}}"
        return f"{self.prelude}Dear {{{{ applicant_name }}}},\n{branch}"


# What a real applicant and recruiter may give: the longest values the commands accept,
# with every character HTML escapes, non-ASCII text (2 and 4 bytes a character) and
# line separators.
HOSTILE_CONTEXT: Final[dict[str, object]] = {
    "applicant_name": ("\"<&>' Ann-Émilie 😀 O'Brien " * 8)[:200],
    "applicant_first_name": ("&<" * 100)[:200],
    "vacancy_title": ("Verpleegkundige\u2028acute zorg € " * 10)[:255],
    "organisation_name": 'Zorggroep <Noord> & "Zuid"',
    "recruiter_name": "R" * 200,
}
# The same, plain: what an attacker's own applicant is called in the pipeline tests.
VARIABLES: Final = frozenset(HOSTILE_CONTEXT)

_BIG: Final = "applicant_name|center(100000)"

ATTACKS: Final[tuple[Attack, ...]] = (
    # -- The findings of issue 18 --
    Attack(
        "center_then_replace",
        "{{ ('a'|center(100000))|replace(' ', 'b'|center(2000)) }}",
        "render",
        "the 'replace' filter would build a text of more than 100000 characters",
    ),
    Attack(
        "center_then_replace_both_huge",
        "{{ ('a'|center(100000))|replace(' ', 'b'|center(100000)) }}",
        "render",
        "the 'replace' filter would build",
    ),
    Attack(
        "wordwrap_one",
        "{{ ('ab' * 50000)|wordwrap(1) }}",
        "render",
        "the 'wordwrap' filter takes at most 1000 characters at width 1",
    ),
    Attack(
        "wordwrap_through_a_variable",
        "{{ (applicant_name * 100)|wordwrap(1, wrapstring=applicant_name) }}",
        "render",
        "the 'wordwrap' filter takes at most",
    ),
    # -- Filters that multiply their input --
    Attack(
        "indent_huge_width",
        "{{ ('a\\n' * 40000)|indent(100000) }}",
        "render",
        "the 'indent' filter would build",
    ),
    Attack(
        "indent_with_a_long_string",
        "{{ (applicant_name ~ '\\n')|indent(applicant_name|center(90000), true, true) }}",
        "render",
        "the 'indent' filter would build",
    ),
    Attack(
        "center_twice",
        "{{ (applicant_name|center(90000))|center(99999 * 2) }}",
        "render",
        "the 'center' filter would build",
    ),
    Attack(
        "join_of_a_repeated_list",
        f"{{{{ ([{_BIG}] * 10000)|join }}}}",
        "render",
        "the 'join' filter would build",
    ),
    Attack(
        "join_with_a_long_separator",
        "{{ range(10000)|join(applicant_name * 400) }}",
        "render",
        "the 'join' filter would build",
    ),
    Attack(
        "join_of_mapped_centers",
        "{{ range(10000)|map('center', 100000)|join }}",
        "render",
        "MB of text and values",
    ),
    Attack(
        "escape_expansion",
        "{{ ('\"' * 100000)|e }}",
        "render",
        "the 'escape' filter would build",
    ),
    Attack(
        "urlencode_expansion",
        "{{ ('€' * 50000)|urlencode }}",
        "render",
        "the 'urlencode' filter takes at most",
    ),
    Attack(
        "urlize_long_text",
        "{{ ('www.a.bc ' * 5000)|urlize }}",
        "render",
        "the 'urlize' filter takes at most",
    ),
    Attack(
        "tojson_indent",
        "{{ range(1000)|list|tojson(indent=100000) }}",
        "render",
        "tojson(indent=...) is not available",
    ),
    Attack(
        "batch_filled_up",
        "{{ [applicant_name]|batch(100000, applicant_name)|list }}",
        "render",
        "the 'batch' filter would build a list of more than 10000 items",
    ),
    Attack(
        "slice_filled_up",
        "{{ [1]|slice(100000, applicant_name)|list }}",
        "render",
        "the 'slice' filter would build a list",
    ),
    Attack(
        "list_of_characters",
        "{{ ('€' * 100000)|list|length }}",
        "render",
        "the 'list' filter would build a list of more than 10000 items",
    ),
    Attack(
        "sum_of_lists",
        "{{ ([[applicant_name]] * 5000)|sum(start=[]) }}",
        "render",
        "the 'sum' filter adds numbers only",
    ),
    # -- Formatting --
    Attack(
        "format_huge_width",
        "{{ '%99999s%99999s'|format(applicant_name, applicant_name) }}",
        "render",
        "a format width above 1000 is not allowed",
    ),
    Attack(
        "format_width_from_the_values",
        "{{ '%*s'|format(100000, applicant_name) }}",
        "render",
        "a format width or precision taken from the values",
    ),
    Attack(
        "format_width_built_by_the_template",
        "{{ ('%' ~ (99999 * 99999) ~ 'd') % 1 }}",
        "render",
        "a format width above 1000 is not allowed",
    ),
    Attack(
        "str_format_huge_width",
        "{{ '{0:>99999}{0:>99999}'.format(applicant_name) }}",
        "render",
        "a format width above 1000 is not allowed",
    ),
    Attack(
        "str_format_nested_width",
        "{{ '{0:{1}}'.format(applicant_name, 100000) }}",
        "render",
        "a format field inside another field's format is not allowed",
    ),
    Attack(
        "str_format_many_fields",
        "{{ ('{0}' * 5000).format(applicant_name) }}",
        "render",
        "'format' would build",
    ),
    # -- Methods --
    Attack(
        "method_center",
        "{{ applicant_name.center(90000).center(99999 * 2) }}",
        "render",
        "padding a text would build",
    ),
    Attack(
        "method_replace",
        "{{ (applicant_name|center(20000)).replace(' ', applicant_name) }}",
        "render",
        "'replace' would build",
    ),
    Attack(
        "method_join",
        f"{{{{ applicant_name.join([{_BIG}] * 3) }}}}",
        "render",
        "'join' would build",
    ),
    Attack(
        "method_expandtabs",
        "{{ ('\\t' * 1000).expandtabs(100000) }}",
        "render",
        "'expandtabs' would build",
    ),
    Attack(
        "method_zfill",
        "{{ applicant_name.zfill(100000) ~ applicant_name.ljust(100000) }}",
        "render",
        "the '~' operator would build",
    ),
    Attack(
        "method_split_into_many",
        "{{ (' ' * 100000).split(' ')|length }}",
        "render",
        "'split' would build a list of more than 10000 items",
    ),
    Attack(
        "method_not_allowed",
        "{{ applicant_name.encode('utf-32') * 100000 }}",
        "render",
        "calling 'encode' is not allowed",
    ),
    # -- Operators --
    Attack(
        "string_times_a_variable",
        "{{ applicant_name * 100000 }}",
        "render",
        "the '*' operator would build",
    ),
    Attack(
        "multiplication_through_variables",
        "{{ applicant_name * m }}",
        "render",
        "the '*' operator would build",
        prelude="{% set n = 99999 %}{% set m = n * n %}",
    ),
    Attack(
        "big_numbers",
        "{{ 99999 * 99999 * 99999 * 99999 }}",
        "render",
        "would make a number above 2**50",
    ),
    Attack(
        "power",
        "{{ 9 ** 9 ** 9 }}",
        "render",
        "the ** operator is not allowed",
    ),
    Attack(
        "concatenation_doubling",
        "{% for a in [applicant_name|center(30000)] %}{% for b in [a ~ a] %}"
        "{{ b ~ b ~ b ~ b }}{% endfor %}{% endfor %}",
        "render",
        "the '~' operator would build",
    ),
    Attack(
        "plus_doubling",
        "{% with a = applicant_name|center(30000) %}{% with b = a + a %}{{ b + b }}"
        "{% endwith %}{% endwith %}",
        "render",
        "the '+' operator would build",
    ),
    Attack(
        "list_repetition",
        "{{ ([applicant_name] * 10000) * 10000 }}",
        "render",
        "the '*' operator would build a list",
    ),
    # -- Loops and ranges --
    Attack(
        "nested_loops",
        "{% for i in range(10000) %}{% for j in range(10000) %}{{ i }}{% endfor %}{% endfor %}",
        "render",
        "loops run more than 10000 times",
    ),
    Attack(
        "nested_loops_writing_nothing",
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        "render",
        "loops run more than 10000 times",
    ),
    Attack(
        "loop_with_filters",
        "{% for i in range(10000) %}{{ (applicant_name|center(30000)|upper)[:9] }}{% endfor %}",
        "render",
        "MB of text and values",
    ),
    Attack(
        "loop_over_a_long_text",
        "{% for c in applicant_name|center(20000) %}{{ c }}{% endfor %}",
        "render",
        "loops run more than 10000 times",
    ),
    Attack(
        "loop_filter_comparing_long_texts",
        "{% for i in range(10000) if (applicant_name * 500) in (vacancy_title * 390) %}"
        "{% endfor %}",
        "render",
        "MB of text and values",
    ),
    Attack(
        "range_too_long",
        "{{ range(100000)|list|length }}",
        "render",
        "a range of more than 10000 numbers is not allowed",
    ),
    Attack(
        "range_made_long_by_arithmetic",
        "{{ range(0, 99999 * 99999, 1)|length }}",
        "render",
        "a range of more than 10000 numbers is not allowed",
    ),
    Attack(
        "map_over_a_long_text",
        "{{ (applicant_name * 500)|map('upper')|list|length }}",
        "render",
        "operations",
    ),
    # -- Blocks that buffer their output --
    Attack(
        "macros_calling_macros",
        "{{ c() }}{{ c() }}",
        "render",
        "MB of text and values",
        prelude="{% macro a() %}{{ applicant_name|center(30000) }}{% endmacro %}"
        "{% macro b() %}{{ a() }}{{ a() }}{{ a() }}{% endmacro %}"
        "{% macro c() %}{{ b() }}{{ b() }}{{ b() }}{% endmacro %}",
    ),
    Attack(
        "macro_recursion",
        "{{ f(40) }}",
        "render",
        "operations",
        prelude="{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}",
    ),
    Attack(
        "set_block",
        "{{ buffered() }}",
        "render",
        "MB of text and values",
        prelude="{% macro buffered() %}{% set x %}{% for i in range(10000) %}"
        "{{ applicant_name|center(1000) }}{% endfor %}{% endset %}{{ x|length }}{% endmacro %}",
    ),
    Attack(
        "filter_block",
        "{% filter upper %}{% for i in range(9999) %}" + "x" * 1000 + "{% endfor %}{% endfilter %}",
        "render",
        "MB of text and values",
    ),
    Attack(
        "call_block",
        "{% call m() %}{{ applicant_name|center(10000) }}{% endcall %}",
        "render",
        "MB of text and values",
        prelude="{% macro m() %}{% for i in range(9999) %}{{ caller() }}{% endfor %}{% endmacro %}",
    ),
    # -- Refused when saved, whatever branch they hide in --
    Attack(
        "huge_number_literal",
        "{{ applicant_name|center(100000000) }}",
        "save",
        "numbers above 100000 are not allowed",
    ),
    Attack(
        "recursive_loop",
        "{% for x in [[1]] recursive %}{{ loop(x) }}{% endfor %}",
        "save",
        "a recursive loop is not allowed",
    ),
    Attack(
        "autoescape_off",
        "{% autoescape false %}{{ applicant_name }}{% endautoescape %}",
        "save",
        "'autoescape' is not allowed",
    ),
    Attack(
        "too_many_tags",
        "{{ applicant_name }}" * 501,
        "save",
        "more than 500",
    ),
    Attack(
        "nested_too_deep",
        "{% if applicant_name %}" * 45 + "x" + "{% endif %}" * 45,
        "save",
        "nests more than 40 deep",
    ),
)

assert len({attack.id for attack in ATTACKS}) == len(ATTACKS), "attack ids are unique"
