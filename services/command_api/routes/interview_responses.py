"""``/interviews/{id}/respond``: where an applicant confirms or declines an interview.

The link in the invitation is signed (no API key, no stored token); opening it shows
a page with two buttons, and only the POST records the answer, so link scanners and
previews that fetch the page change nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.command_api.deps import DatabaseDep, SettingsDep
from services.command_api.responses import html_page
from shared.db.models import Application, ApplicationEvent, Interview, Vacancy
from shared.events import InterviewResponded
from shared.ids import new_id
from shared.links import verify
from shared.messaging.outbox import publish_event

router = APIRouter(prefix="/interviews", tags=["interview responses"], include_in_schema=True)

PURPOSE = "interview-response"
Answer = Literal["confirmed", "declined"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(title=escape(title), body=body),
        status_code=status,
        headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"},
    )


def _not_found() -> HTMLResponse:
    return _page("Link not valid", "<p>This link is not valid (any more).</p>", 404)


_NOT_VALID = html_page("The link is not valid (any more): a page saying so")


@router.get("/{interview_id}/respond", response_class=HTMLResponse, responses={404: _NOT_VALID})
def show_interview_response(
    interview_id: UUID,
    sig: Annotated[str, Query(max_length=100)],
    db: DatabaseDep,
    settings: SettingsDep,
) -> HTMLResponse:
    if not verify(settings.link_key, PURPOSE, interview_id, sig):
        return _not_found()
    with db.transaction() as session:
        row = session.execute(
            select(Interview, Vacancy.title)
            .join(Application, Application.id == Interview.application_id)
            .join(Vacancy, Vacancy.id == Application.vacancy_id)
            .where(Interview.id == interview_id)
        ).one_or_none()
    if row is None:
        return _not_found()
    interview, title = row
    when = interview.starts_at.strftime("%Y-%m-%d %H:%M UTC")
    if interview.status != "scheduled":
        return _page(
            "Interview cancelled", f"<p>The interview for {escape(title)} was cancelled.</p>"
        )
    answered = (
        f"<p>Your answer so far: <strong>{interview.response}</strong>.</p>"
        if interview.response
        else ""
    )
    form = (
        f'<form method="post"><input type="hidden" name="sig" value="{escape(sig)}">'
        '<button name="answer" value="confirmed">I will be there</button>'
        '<button name="answer" value="declined">I cannot come</button></form>'
    )
    return _page("Your interview", f"<p>{escape(title)}, {when}.</p>{answered}{form}")


@router.post(
    "/{interview_id}/respond",
    response_class=HTMLResponse,
    responses={
        404: _NOT_VALID,
        409: html_page("Too late to answer: the interview was cancelled or has begun"),
    },
)
def record_interview_response(
    interview_id: UUID,
    sig: Annotated[str, Form(max_length=100)],
    answer: Annotated[Answer, Form()],
    db: DatabaseDep,
    settings: SettingsDep,
) -> HTMLResponse:
    if not verify(settings.link_key, PURPOSE, interview_id, sig):
        return _not_found()
    with db.transaction() as session:
        interview = session.get(Interview, interview_id, with_for_update=True)
        if interview is None:
            return _not_found()
        if interview.status != "scheduled" or interview.starts_at <= datetime.now(UTC):
            return _page(
                "Too late to answer", "<p>This interview can no longer be answered.</p>", 409
            )
        if interview.response != answer:  # a second click on the same button records nothing
            _record(session, interview, answer)
    text = "Thank you, see you then." if answer == "confirmed" else "Thank you for letting us know."
    return _page("Answer recorded", f"<p>{text}</p>")


def _record(session: Session, interview: Interview, answer: Answer) -> None:
    """The answer on the interview, a history row the recruiter sees, an event."""
    now = datetime.now(UTC)
    interview.response = answer
    interview.responded_at = now
    status = session.scalar(
        select(Application.status).where(
            Application.id == interview.application_id,
            Application.organisation_id == interview.organisation_id,
        )
    )
    session.add(
        ApplicationEvent(
            id=new_id(),
            organisation_id=interview.organisation_id,
            application_id=interview.application_id,
            event_type=f"interview.{answer}",
            actor="applicant",
            from_status=status,
            to_status=status,
            occurred_at=now,
        )
    )
    publish_event(
        session,
        InterviewResponded(
            occurred_at=now,
            organisation_id=interview.organisation_id,
            application_id=interview.application_id,
            interview_id=interview.id,
            response=answer,
        ),
    )
