"""Rendering emails (shared.emails): built-in and organisation templates, headers, privacy."""

from __future__ import annotations

import importlib.resources
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from shared.emails.builtin import builtin_template_set
from shared.emails.formatting import (
    format_date,
    format_datetime,
    format_duration,
    format_money,
    format_names,
    format_salary,
)
from shared.emails.headers import UNSAFE_HEADER_CHARACTERS
from shared.emails.locales import LOCALES, Locale
from shared.emails.purposes import (
    IDENTIFYING_VARIABLES,
    PURPOSES,
    VARIABLES,
    MissingVariables,
    Purpose,
    sample_context,
)
from shared.emails.rendering import (
    MAX_SUBJECT_CHARS,
    _check_set,
    check_template_set,
    preview_email,
    render_email,
)
from shared.emails.sanitising import sanitised
from shared.emails.template_set import PARTS, Part, TemplatePartProblem, TemplateSet
from shared.templates.sandbox import TemplateProblem, check

EVERY_EMAIL = [(purpose, locale) for purpose in PURPOSES for locale in LOCALES]

GOOD_OVERRIDE = {
    "subject": "Bedankt, {{ applicant_first_name }}\n",
    "text": "Beste {{ applicant_name }}, we hebben je brief voor {{ vacancy_title }}.\n",
    "html": (
        "<html><head><style>p { color: #123456; }</style></head>"
        "<body><p>Beste {{ applicant_name }}</p></body></html>"
    ),
}


def _override(**parts: str) -> TemplateSet:
    return TemplateSet(**{**GOOD_OVERRIDE, **parts})


class _Document(HTMLParser):
    """An HTML document as its parts: tags with their attributes (in any order) and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[object] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts.append((tag, sorted(attrs, key=str)))

    def handle_endtag(self, tag: str) -> None:
        self.parts.append(f"/{tag}")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _document(html: str) -> list[object]:
    parser = _Document()
    parser.feed(html)
    parser.close()
    return parser.parts


def _context(purpose: Purpose, locale: Locale = "nl", **values: object) -> dict[str, object]:
    return {**sample_context(purpose, locale), **values}


# --- built-in templates ------------------------------------------------------------------


@pytest.mark.parametrize(("purpose", "locale"), EVERY_EMAIL)
def test_every_built_in_email_renders_in_dutch_and_english_with_its_sample_context(
    purpose: Purpose, locale: Locale
) -> None:
    # Given the purpose's sample context
    context = sample_context(purpose, locale)

    # When the built-in email is rendered
    email = render_email(purpose, locale, context)

    # Then the subject is one non-empty line that fits a header
    assert email.subject.strip()
    assert not set(email.subject) & UNSAFE_HEADER_CHARACTERS
    assert len(email.subject) <= MAX_SUBJECT_CHARS
    # And both bodies have content, the HTML with its CSS inlined and no <style> block left
    assert email.text.strip()
    assert str(context["organisation_name"]) in email.text
    assert 'style="' in email.html
    assert "<style" not in email.html
    assert f'<html lang="{locale}">' in email.html
    # And nothing was left unrendered
    for part in (email.subject, email.text, email.html):
        assert "{{" not in part
        assert "{%" not in part


@pytest.mark.parametrize(("purpose", "locale"), EVERY_EMAIL)
def test_a_built_in_email_is_the_same_with_its_css_inlined_into_the_template_once(
    purpose: Purpose, locale: Locale
) -> None:
    # Given the sample context, with a name that HTML must escape
    context = _context(purpose, locale, applicant_name="Ann <b>\"&' O'Brien")

    # When the built-in is rendered (CSS inlined into the template once) and the same
    # sources as an organisation's set (CSS inlined into the rendered email)
    once = render_email(purpose, locale, context)
    each = render_email(purpose, locale, context, override=builtin_template_set(purpose, locale))

    # Then the HTML is the same document once the organisation's path has sanitised it:
    # the same elements, attributes and text (written differently: Jinja escapes a quote
    # as &#34;, the inliner writes it as it is, ...)
    assert _document(sanitised(once.html, lang=locale)) == _document(each.html)
    assert "<style" not in once.html
    assert (once.subject, once.text) == (each.subject, each.text)


@pytest.mark.parametrize(("purpose", "locale"), EVERY_EMAIL)
def test_every_built_in_template_uses_only_its_purposes_variables(
    purpose: Purpose, locale: Locale
) -> None:
    # Given the shipped template files of one purpose and locale
    folder = importlib.resources.files("shared.emails").joinpath("templates", purpose)
    for name, html in (("subject", False), ("txt", False), ("html", True)):
        source = folder.joinpath(f"{locale}.{name}.j2").read_text(encoding="utf-8")

        # When each goes through the sandbox's check
        checked = check(source, html=html, allowed_variables=VARIABLES[purpose])

        # Then it passes, using nothing outside the purpose's variables
        assert checked.variables <= VARIABLES[purpose]


def test_dutch_emails_to_applicants_say_je_and_formal_letters_say_u() -> None:
    # Given the Dutch receipt (friendly) and the Dutch rejection letter (formal)
    receipt = preview_email("receipt", "nl").text
    letter = preview_email("letter_rejected", "nl").text

    # Then each keeps to one form of address
    assert " je " in receipt
    assert " u " not in receipt
    assert " uw " in letter
    assert " je " not in letter


def test_the_credentials_email_carries_the_link_and_the_username_but_never_a_password() -> None:
    # Given the credentials variables: there is no password among them
    assert not {name for name in VARIABLES["credentials"] if "password" in name} - {
        "set_password_link",
        "set_password_expires",
    }
    context = _context("credentials", "en")

    # When the email is rendered
    email = render_email("credentials", "en", context)

    # Then it holds the username and the set-password link, in both parts
    for part in (email.text, email.html):
        assert str(context["username"]) in part
        assert str(context["set_password_link"]) in part


def test_an_interview_invitation_without_a_response_link_leaves_the_link_out() -> None:
    # Given an invitation whose confirm/decline page is not there
    context = _context("interview_invitation", "nl", response_link="")

    # When it is rendered
    email = render_email("interview_invitation", "nl", context)

    # Then neither part offers an empty link
    assert "via deze link" not in email.text
    assert 'href=""' not in email.html


# --- escaping and header injection -------------------------------------------------------


def test_a_hostile_applicant_name_is_escaped_in_html_but_kept_as_written_in_text() -> None:
    # Given an applicant whose name is markup
    hostile = "<script>alert('x')</script> & Co"
    context = _context("letter_received", "en", applicant_name=hostile)

    # When the letter is rendered
    email = render_email("letter_received", "en", context)

    # Then the HTML shows the name as text and runs nothing
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "&amp; Co" in email.html
    # And the text part, which is not HTML, has the name exactly as given
    assert hostile in email.text


@pytest.mark.parametrize("character", sorted(UNSAFE_HEADER_CHARACTERS))
def test_a_subject_variable_holding_a_line_break_is_refused_naming_the_subject(
    character: str,
) -> None:
    # Given a vacancy title that would end the Subject header and start another
    context = _context("receipt", "nl", vacancy_title=f"Nurse{character}Bcc: all@example.org")

    # When the receipt is rendered
    with pytest.raises(TemplatePartProblem) as refused:
        render_email("receipt", "nl", context)

    # Then it is refused, and the error names the subject and the variable
    assert refused.value.part == "subject"
    assert str(refused.value).startswith("subject: ")
    assert "vacancy_title" in str(refused.value)
    assert isinstance(refused.value, TemplateProblem)


@pytest.mark.parametrize("escape", ["\\r\\n", "\\n", "\\x00", "\\u2028", "\\x85"])
def test_a_subject_template_that_itself_writes_a_line_break_is_refused(escape: str) -> None:
    # Given an organisation subject that writes a line break from a string literal
    subject = f'Welcome{{{{ "{escape}" }}}}Bcc: all@example.org'

    # When the template set is checked before it is saved
    with pytest.raises(TemplatePartProblem) as refused:
        check_template_set("letter_received", subject, GOOD_OVERRIDE["text"], GOOD_OVERRIDE["html"])

    # Then the rendered subject is refused as more than one line
    assert refused.value.part == "subject"
    assert "single line" in str(refused.value)


def test_a_subject_is_trimmed_to_one_line_of_at_most_255_characters() -> None:
    # Given an organisation subject with a final newline, extra spaces and a long title
    override = _override(subject="  Hello\t {{ vacancy_title }}  \n")
    context = _context("letter_received", "en", vacancy_title="x" * 400)

    # When it is rendered
    email = render_email("letter_received", "en", context, override=override)

    # Then the subject is one trimmed line, cut to the cap with an ellipsis
    assert email.subject.startswith("Hello xxx")
    assert len(email.subject) == MAX_SUBJECT_CHARS
    assert email.subject.endswith("\N{HORIZONTAL ELLIPSIS}")


# --- organisation overrides --------------------------------------------------------------


def test_an_organisation_override_replaces_the_built_in_email() -> None:
    # Given a valid organisation template set
    override = _override()

    # When the letter is rendered with it
    email = render_email(
        "letter_received", "nl", _context("letter_received", "nl"), override=override
    )

    # Then the organisation's words are used, with its CSS inlined (and sanitised)
    assert email.subject == "Bedankt, Sanne"
    assert email.text.startswith("Beste Sanne de Vries, we hebben je brief voor Verpleegkundige")
    assert '<p style="color:#123456">Beste Sanne de Vries</p>' in email.html
    assert "<style" not in email.html


def test_checking_a_valid_override_returns_its_sample_rendering() -> None:
    # When a valid set is checked before it is saved
    preview = check_template_set(
        "letter_received",
        GOOD_OVERRIDE["subject"],
        GOOD_OVERRIDE["text"],
        GOOD_OVERRIDE["html"],
        locale="en",
    )

    # Then the caller gets the email as it will look with sample data
    assert preview.subject == "Bedankt, Sanne"
    assert "Emergency care nurse" in preview.text


@pytest.mark.parametrize("part", PARTS)
def test_an_override_using_an_unknown_variable_is_refused_naming_the_part(part: Part) -> None:
    # Given an organisation template set where one part asks for the applicant's salary
    parts = {**GOOD_OVERRIDE, part: "Hello {{ current_salary }}"}

    # When it is checked before it is saved
    with pytest.raises(TemplatePartProblem) as refused:
        check_template_set("letter_received", parts["subject"], parts["text"], parts["html"])

    # Then the error names the part and the variable
    assert refused.value.part == part
    assert str(refused.value) == f"{part}: unknown variable(s): current_salary"


def test_a_syntax_error_in_an_override_is_refused_with_its_part_and_line() -> None:
    # Given an HTML part broken on its second line
    html = "<p>Hello</p>\n<p>{% if applicant_name %}</p>"

    # When it is checked
    with pytest.raises(TemplatePartProblem) as refused:
        check_template_set("letter_received", GOOD_OVERRIDE["subject"], "Hi", html)

    # Then the error says which part and which line
    assert refused.value.part == "html"
    assert refused.value.line == 2
    assert str(refused.value).startswith("html: line 2: ")


def test_an_override_that_renders_an_empty_text_part_is_refused() -> None:
    # Given a text part that renders only whitespace: the email would have no text part
    with pytest.raises(TemplatePartProblem) as refused:
        check_template_set("letter_received", GOOD_OVERRIDE["subject"], "  \n", "<p>x</p>")

    # Then it is refused
    assert refused.value.part == "text"


def test_an_override_cannot_make_the_worker_read_a_local_stylesheet(tmp_path: Path) -> None:
    # Given a stylesheet on the worker's disk and an HTML part that links to it
    stylesheet = tmp_path / "secret.css"
    stylesheet.write_text("p { color: #ff0000; }")
    html = (
        f'<html><head><link rel="stylesheet" href="file://{stylesheet}">'
        f'<link rel="stylesheet" href="{stylesheet}"></head><body><p>Hi</p></body></html>'
    )

    # When the email is rendered
    email = render_email(
        "letter_received", "en", _context("letter_received", "en"), override=_override(html=html)
    )

    # Then nothing was read: no rule from the file, and the links are gone
    assert "#ff0000" not in email.html
    assert "<link" not in email.html


# --- context and privacy -----------------------------------------------------------------


def test_a_context_missing_a_variable_is_refused_as_a_bug_of_the_caller() -> None:
    # Given a rejection context without its reason
    context = _context("rejection")
    del context["reason"]

    # When it is rendered
    with pytest.raises(MissingVariables) as refused:
        render_email("rejection", "nl", context)

    # Then the missing variable is named
    assert refused.value.names == frozenset({"reason"})
    assert not isinstance(refused.value, TemplateProblem)


@pytest.mark.parametrize("locale", LOCALES)
def test_an_anonymized_cv_forward_contains_no_name_email_or_phone(locale: Locale) -> None:
    # Given a context that also carries the applicant's identity, as canaries
    canaries = {
        "applicant_name": "Canary Zwaluwstaart",
        "applicant_first_name": "Canary",
        "applicant_email": "canary.zwaluw@example.org",
        "applicant_phone": "+31 6 99887766",
    }
    context = {**_context("cv_forward_anonymized", locale), **canaries}

    # When the anonymized forward is rendered
    email = render_email("cv_forward_anonymized", locale, context)

    # Then no part holds any of them, but the reference code is there
    for part in (email.subject, email.text, email.html):
        for canary in canaries.values():
            assert canary not in part
        assert "KND-7Q4M" in part


def test_the_anonymized_cv_forward_cannot_even_name_an_identifying_variable() -> None:
    # Then the purpose's allowlist holds none of the identifying variables
    assert not VARIABLES["cv_forward_anonymized"] & IDENTIFYING_VARIABLES

    # And an organisation template that asks for the name is refused when saved
    with pytest.raises(TemplatePartProblem) as refused:
        check_template_set(
            "cv_forward_anonymized",
            "Candidate {{ reference_code }}",
            "About {{ applicant_name }}",
            "<p>{{ reference_code }}</p>",
        )
    assert refused.value.part == "text"
    assert "applicant_name" in str(refused.value)


def test_the_full_cv_forward_does_show_who_the_applicant_is() -> None:
    # Given the non-anonymized forward
    email = preview_email("cv_forward", "en")

    # Then the recipient learns the applicant's name and contact details
    assert "Sanne de Vries" in email.subject
    assert "sanne.devries@example.org" in email.text
    assert "+31 6 12345678" in email.html


# --- formatting --------------------------------------------------------------------------


def test_money_is_formatted_the_dutch_and_the_english_way() -> None:
    # Then Dutch puts a no-break space after the euro sign and uses a decimal comma
    assert format_money(Decimal("3500"), "nl") == "€\xa03.500,00"
    assert format_money(Decimal("3500"), "en") == "€3,500.00"
    assert format_money(12, "nl", currency="USD") == "US$\xa012,00"
    assert format_salary(Decimal("3500.5"), "EUR", "month", "nl") == "€\xa03.500,50 per maand"
    assert format_salary(Decimal("21.75"), "EUR", "hour", "en") == "€21.75 per hour"


def test_moments_are_shown_in_the_organisations_timezone_with_a_24_hour_clock() -> None:
    # Given 13:30 UTC on a winter day: 14:30 in Amsterdam
    moment = datetime(2026, 3, 9, 13, 30, tzinfo=UTC)

    # Then each locale writes it out in full, or in long form
    assert format_datetime(moment, "nl") == "maandag 9 maart 2026, 14:30"
    assert format_datetime(moment, "en") == "Monday, 9 March 2026, 14:30"
    assert format_datetime(moment, "nl", style="long") == "9 maart 2026, 14:30"
    assert format_datetime(moment, "en", style="long") == "9 March 2026, 14:30"
    # And another timezone can be asked for
    assert format_datetime(moment, "en", timezone="Europe/London", style="long").endswith("13:30")


def test_a_naive_moment_is_refused_because_its_time_is_a_guess() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_datetime(datetime(2026, 3, 9, 13, 30), "nl")


def test_days_are_written_out_and_a_late_evening_in_utc_is_the_next_day_in_amsterdam() -> None:
    assert format_date(date(2026, 1, 1), "nl") == "1 januari 2026"
    assert format_date(date(2026, 1, 1), "en") == "1 January 2026"
    assert format_date(date(2026, 1, 1), "nl", style="full") == "donderdag 1 januari 2026"
    assert format_date(datetime(2026, 3, 31, 23, 30, tzinfo=UTC), "en") == "1 April 2026"


def test_durations_read_as_hours_and_minutes() -> None:
    assert format_duration(45, "nl") == "45 minuten"
    assert format_duration(60, "nl") == "1 uur"
    assert format_duration(90, "nl") == "1 uur en 30 minuten"
    assert format_duration(90, "en") == "1 hour and 30 minutes"
    assert format_duration(120, "en") == "2 hours"


def test_names_are_joined_as_a_sentence() -> None:
    assert format_names(["Eva", "Joost", "Ahmed"], "nl") == "Eva, Joost en Ahmed"
    assert format_names(["Eva", "Joost"], "en") == "Eva and Joost"
    assert format_names([], "en") == ""


def test_an_unsupported_locale_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported locale 'de'"):
        render_email("receipt", "de", _context("receipt"))  # type: ignore[arg-type]


def test_an_organisation_template_is_checked_once_and_an_edited_one_takes_effect_at_once() -> None:
    context = sample_context("receipt", "nl")
    unique = uuid.uuid4().hex  # content no other test rendered: the cache has never seen it
    first = TemplateSet(
        subject="Ontvangen: {{ vacancy_title }}",
        text="Beste {{ applicant_first_name }}, dank je. " + unique,
        html="<p>Beste {{ applicant_first_name }}, dank je.</p>",
    )
    edited = TemplateSet(first.subject, "Hallo {{ applicant_first_name }}!", first.html)

    before = _check_set.cache_info()
    render_email("receipt", "nl", context, override=first)
    again = render_email("receipt", "nl", context, override=first)
    after = _check_set.cache_info()
    changed = render_email("receipt", "nl", context, override=edited)

    assert (after.hits - before.hits, after.misses - before.misses) == (1, 1)
    assert again.text.startswith("Beste ")
    assert changed.text.startswith("Hallo ")
