"""The calendar invitation (``.ics``) that goes with an interview invitation email.

One VEVENT in a VCALENDAR with ``METHOD:REQUEST`` (RFC 5546), so mail clients offer
"accept / decline" and put the interview in the applicant's agenda. Times are written in
UTC, which every client understands without a VTIMEZONE block. Attach it as
``text/calendar; method=REQUEST; charset=UTF-8`` (filename e.g. ``interview.ics``). Sending
an updated invitation later needs the same ``uid`` and a higher ``sequence``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from icalendar import Calendar, Event, vCalAddress

from shared.emails.headers import unsafe_header_character

PRODUCT_ID: Final = "-//werving//interview invitation//EN"


def _address(email: str, name: str | None, field: str) -> vCalAddress:
    if not email or "@" not in email or ":" in email or unsafe_header_character(email):
        raise ValueError(f"{field} is not a plain email address")
    address = vCalAddress(f"mailto:{email}")
    if name:
        if unsafe_header_character(name):
            raise ValueError(f"the name for {field} must be a single line")
        address.params["CN"] = name
    return address


def interview_ics(
    uid: str,
    start: datetime,
    duration_minutes: int,
    summary: str,
    location: str,
    description: str,
    organizer_email: str,
    attendee_email: str,
    *,
    organizer_name: str | None = None,
    attendee_name: str | None = None,
    sequence: int = 0,
    stamp: datetime | None = None,
) -> bytes:
    """An iCalendar invitation for one interview, as bytes (CRLF line endings, UTF-8).

    ``start`` must be timezone-aware; DTSTART and DTEND are written in UTC. ``uid`` should
    be stable per interview (e.g. ``f"interview-{interview_id}@{sending_domain}"``);
    ``stamp`` (DTSTAMP) defaults to now. ``location`` may be empty (a phone interview).
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start is a naive datetime; pass an aware datetime")
    if duration_minutes <= 0:
        raise ValueError("duration_minutes must be positive")
    if not uid or unsafe_header_character(uid):
        raise ValueError("uid must be a non-empty single line")
    begins = start.astimezone(UTC)

    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", (stamp or datetime.now(UTC)).astimezone(UTC))
    event.add("dtstart", begins)
    event.add("dtend", begins + timedelta(minutes=duration_minutes))
    event.add("sequence", sequence)
    event.add("status", "CONFIRMED")
    event.add("summary", summary)
    if location:
        event.add("location", location)
    if description:
        event.add("description", description)

    event.add("organizer", _address(organizer_email, organizer_name, "organizer_email"))
    attendee = _address(attendee_email, attendee_name, "attendee_email")
    attendee.params["ROLE"] = "REQ-PARTICIPANT"
    attendee.params["PARTSTAT"] = "NEEDS-ACTION"
    attendee.params["RSVP"] = "TRUE"
    event.add("attendee", attendee)

    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "REQUEST")
    calendar.add_component(event)
    ical: bytes = calendar.to_ical()  # icalendar leaves to_ical unannotated
    return ical
