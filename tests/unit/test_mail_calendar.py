"""The .ics invitation that goes with an interview email: calendar clients read it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from services.mail_worker.calendar import interview_ics

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
STAMP = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _invitation(**changes: Any) -> bytes:
    arguments: dict[str, Any] = {
        "uid": "interview-0190aa@acme.example",
        "start": datetime(2026, 3, 9, 14, 30, tzinfo=AMSTERDAM),
        "duration_minutes": 45,
        "summary": "Gesprek: Verpleegkundige acute zorg",
        "location": "Stationsplein 12, Utrecht",
        "description": "Met Eva Bakker en Joost Visser.\nMeld je bij de receptie; 2e verdieping.",
        "organizer_email": "werving@acme.example",
        "attendee_email": "sanne.devries@example.org",
        "stamp": STAMP,
        **changes,
    }
    return interview_ics(**arguments)


def _event(ics: bytes) -> dict[str, Any]:
    """The one VEVENT's properties (icalendar types them as a union of every value type)."""
    calendar = icalendar.Calendar.from_ical(ics)
    (event,) = calendar.walk("VEVENT")
    return dict(event)


def test_an_interview_invitation_parses_back_as_a_request_with_every_field() -> None:
    # Given an interview at 14:30 Amsterdam time (13:30 UTC) for 45 minutes
    ics = _invitation(organizer_name="Eva Bakker (Acme)", attendee_name="Sanne de Vries")

    # When a calendar client reads the bytes
    calendar: dict[str, Any] = dict(icalendar.Calendar.from_ical(ics))
    event = _event(ics)

    # Then it is a request (clients offer accept / decline) in iCalendar 2.0
    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    # And the event has its id, stamp and times, in UTC
    assert event["UID"] == "interview-0190aa@acme.example"
    assert event["DTSTAMP"].dt == STAMP
    assert event["DTSTART"].dt == datetime(2026, 3, 9, 13, 30, tzinfo=UTC)
    assert event["DTEND"].dt - event["DTSTART"].dt == timedelta(minutes=45)
    assert b"DTSTART:20260309T133000Z" in ics
    assert b"DTEND:20260309T141500Z" in ics
    # And what, where and who
    assert event["SUMMARY"] == "Gesprek: Verpleegkundige acute zorg"
    assert event["LOCATION"] == "Stationsplein 12, Utrecht"
    assert event["DESCRIPTION"] == (
        "Met Eva Bakker en Joost Visser.\nMeld je bij de receptie; 2e verdieping."
    )
    assert event["ORGANIZER"] == "mailto:werving@acme.example"
    assert event["ORGANIZER"].params["CN"] == "Eva Bakker (Acme)"
    attendee = event["ATTENDEE"]
    assert attendee == "mailto:sanne.devries@example.org"
    assert attendee.params["CN"] == "Sanne de Vries"
    assert attendee.params["RSVP"] == "TRUE"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"


def test_the_invitation_is_written_with_crlf_line_endings() -> None:
    # Then every content line ends in CRLF, as RFC 5545 requires
    ics = _invitation()
    assert ics.startswith(b"BEGIN:VCALENDAR\r\n")
    assert b"\n" not in ics.replace(b"\r\n", b"")


def test_a_phone_interview_without_a_location_has_no_location_line() -> None:
    # Given an interview without a place
    event = _event(_invitation(location=""))

    # Then the event simply has no LOCATION
    assert "LOCATION" not in event


def test_text_with_line_breaks_stays_inside_its_property() -> None:
    # Given a summary that tries to add a property of its own
    ics = _invitation(summary="Interview\r\nATTENDEE:mailto:someone.else@example.org")

    # When it is read back
    event = _event(ics)

    # Then the line break is escaped text (iCalendar keeps LF, drops CR) ...
    assert event["SUMMARY"] == "Interview\nATTENDEE:mailto:someone.else@example.org"
    # ... and the only attendee is the applicant
    assert event["ATTENDEE"] == "mailto:sanne.devries@example.org"
    assert ics.count(b"\r\nATTENDEE") == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start": datetime(2026, 3, 9, 14, 30)}, "naive"),
        ({"duration_minutes": 0}, "positive"),
        ({"uid": "a\r\nb"}, "uid"),
        ({"attendee_email": "sanne@example.org\r\nATTENDEE:mailto:x@y"}, "attendee_email"),
        ({"organizer_email": "no-address"}, "organizer_email"),
        ({"attendee_name": "Sanne\nde Vries"}, "single line"),
    ],
)
def test_an_invitation_with_an_unusable_value_is_refused(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _invitation(**changes)
