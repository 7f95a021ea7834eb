"""``/review/{token}``: the page where a panel reviewer rates candidates 1 to 7 stars.

Server-rendered, no JavaScript: a form per review with a radio group of seven options
(a ``fieldset`` with a ``legend``) and a comment per candidate. Saving posts the form
(with a token bound to the link, and checked for its origin: see
:mod:`services.command_api.review_form_guard`) and redirects back, so a reload shows what
is stored.
``PUT /review/{token}/ratings`` takes the same ratings as JSON. A link that does not
work shows a friendly page with the right status and no data.
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from uuid import UUID

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool

from services.command_api.deps import DatabaseDep, SettingsDep, StorageDep
from services.command_api.problems import ProblemError
from services.command_api.responses import Responses, html_page, problem
from services.command_api.review_access import (
    MAX_COMMENT,
    LinkRefused,
    RatingIn,
    RatingProblem,
    RatingsIn,
    Refusal,
    ReviewAccess,
    open_link,
    save_ratings,
)
from services.command_api.review_form_guard import form_token, refusal
from services.command_api.review_texts import TEXTS, PageLocale
from services.command_api.routes.documents import CV_TYPES
from shared.db.database import Database
from shared.db.models import Application, Document
from shared.emails.formatting import format_date

router = APIRouter(prefix="/review", tags=["panel review page"])
log = structlog.get_logger(__name__)

_PAGES: Final = Environment(
    loader=PackageLoader("services.command_api", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
)
_HEADERS: Final = {
    # No script, no outside resource, no framing; forms post back here only.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    # Not no-referrer: with it a browser sends `Origin: null` on the form's own POST.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
LangQuery = Annotated[str | None, Query(max_length=2, pattern="^(nl|en)$")]


def _locale(access: ReviewAccess | None, lang: str | None) -> PageLocale:
    if lang in ("nl", "en"):
        return lang  # type: ignore[return-value]
    if access is not None and access.organisation.default_locale == "en":
        return "en"
    return "nl"


def _html(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    body = _PAGES.get_template(f"review/{template}.html").render(**values)
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


def _refused(refusal: Refusal, lang: str | None) -> HTMLResponse:
    locale = _locale(None, lang)
    t = TEXTS[locale]
    return _html(
        "error",
        refusal.status,
        lang=locale,
        title=t["error_title"],
        t=t,
        reason=t[refusal.value],
    )


def _page(
    access: ReviewAccess,
    token: str,
    locale: PageLocale,
    csrf: str,
    *,
    status: int = 200,
    saved: bool = False,
    errors: list[str] | None = None,
    submitted: dict[UUID, tuple[int | None, str]] | None = None,
) -> HTMLResponse:
    t = TEXTS[locale]
    review = access.review
    candidates = []
    for c in access.candidates:
        stars, comment = (submitted or {}).get(c.application_id, (c.stars, c.comment))
        candidates.append(
            {
                "application_id": c.application_id,
                "name": c.name,
                "applied_on": format_date(c.applied_on, locale),
                "has_cv": c.has_cv,
                "cv_url": f"/review/{token}/cv/{c.application_id}",
                "stars": stars,
                "comment": comment,
            }
        )
    return _html(
        "page",
        status,
        lang=locale,
        other_lang="en" if locale == "nl" else "nl",
        title=f"{t['title']} - {access.vacancy_title}",
        t=t,
        organisation=access.organisation.name,
        vacancy=access.vacancy_title,
        due=format_date(review.due_at, locale) if review.due_at else "",
        message=review.message or "",
        recruiter=access.recruiter,
        candidates=candidates,
        csrf=csrf,
        saved=saved,
        errors=errors or [],
        max_comment=MAX_COMMENT,
    )


def _open(db: Database, token: str) -> ReviewAccess | Refusal:
    with db.transaction() as session:
        return open_link(session, token)


_LINK_REFUSED: Final[Responses] = {
    404: html_page("The link is unknown, or was replaced by a newer one: a page saying so"),
    410: html_page("The link was revoked or expired, or the review is closed: a page saying so"),
}
# The form as a browser posts it; the application ids are the page's candidates.
_FORM_BODY: Final = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {"csrf": {"type": "string", "description": "From the page."}},
                "patternProperties": {
                    "^stars-[0-9a-f-]{36}$": {"type": "string", "enum": ["", *"1234567"]},
                    "^comment-[0-9a-f-]{36}$": {"type": "string", "maxLength": MAX_COMMENT},
                },
                "additionalProperties": False,
            }
        }
    },
}


@router.get("/{token}", response_class=HTMLResponse, responses=_LINK_REFUSED)
def show_review(
    token: str, db: DatabaseDep, settings: SettingsDep, lang: LangQuery = None, saved: bool = False
) -> HTMLResponse:
    access = _open(db, token)
    if isinstance(access, Refusal):
        return _refused(access, lang)
    csrf = form_token(settings.link_key, token)
    return _page(access, token, _locale(access, lang), csrf, saved=saved)


@router.post(
    "/{token}",
    response_class=HTMLResponse,
    status_code=303,
    responses={
        303: {"description": "Saved: back to the page (`Location`), which shows it"},
        403: html_page(
            "The form did not come from this link's page (its token, `Origin` or"
            " `Sec-Fetch-Site`): a page saying so, and nothing is saved"
        ),
        **_LINK_REFUSED,
        422: html_page("The page again, with what is wrong in the form, and nothing saved"),
    },
    openapi_extra={"requestBody": _FORM_BODY},
)
async def save_review(
    token: str,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    lang: LangQuery = None,
) -> Response:
    form = await request.form()
    why = refusal(
        key=settings.link_key,
        review_token=token,
        sent_token=str(form.get("csrf", "")),
        origin=request.headers.get("origin"),
        fetch_site=request.headers.get("sec-fetch-site"),
        own_origins=(settings.public_base_url, str(request.base_url)),
    )
    if why is not None:
        log.warning("review.form_refused", reason=why)
        locale = _locale(None, lang)
        t = TEXTS[locale]
        return _html("error", 403, lang=locale, title=t["error_title"], t=t, reason=t["csrf"])
    fields = {key: str(value) for key, value in form.items()}
    csrf = form_token(settings.link_key, token)
    return await run_in_threadpool(_save_form, db, token, fields, lang, csrf)


def _save_form(
    db: Database, token: str, fields: dict[str, str], lang: str | None, csrf: str
) -> Response:
    with db.transaction() as session:
        access = open_link(session, token)
        if isinstance(access, Refusal):
            return _refused(access, lang)
        locale = _locale(access, lang)
        t = TEXTS[locale]
        ratings, errors, submitted = [], [], {}
        for c in access.candidates:
            raw = fields.get(f"stars-{c.application_id}") or None
            comment = fields.get(f"comment-{c.application_id}", "").strip()
            stars = int(raw) if raw in {"1", "2", "3", "4", "5", "6", "7"} else None
            submitted[c.application_id] = (stars, comment)
            if raw is not None and stars is None:
                errors.append(t["bad_stars"].format(name=c.name))
            elif stars is None and comment:
                errors.append(t["choose_stars"].format(name=c.name))
            elif len(comment) > MAX_COMMENT:
                errors.append(t["comment_too_long"].format(name=c.name, max=MAX_COMMENT))
            elif stars is not None:
                rating = RatingIn(
                    application_id=c.application_id, stars=stars, comment=comment or None
                )
                ratings.append(rating)
        if errors:
            return _page(
                access, token, locale, csrf, status=422, errors=errors, submitted=submitted
            )
        if ratings:
            try:
                save_ratings(session, access, ratings)
            except LinkRefused as refused:
                return _refused(refused.refusal, lang)
    return RedirectResponse(f"/review/{token}?lang={locale}&saved=true", status_code=303)


@router.put(
    "/{token}/ratings",
    responses={
        404: problem("The link is unknown, or was replaced by a newer one"),
        410: problem("The link was revoked or expired, or the review is closed"),
        422: problem("A rating of an application that is not a candidate of this review"),
    },
)
def put_ratings(token: str, body: RatingsIn, db: DatabaseDep) -> dict[str, int]:
    """The reviewer's ratings as JSON (what the page's form saves): each replaces that
    reviewer's earlier rating of the candidate; all or nothing."""
    with db.transaction() as session:
        access = open_link(session, token)
        if isinstance(access, Refusal):
            raise ProblemError(access.status, "Link not usable", access.value)
        try:
            return {"saved": save_ratings(session, access, body.ratings)}
        except LinkRefused as refused:
            raise ProblemError(
                refused.refusal.status, "Link not usable", refused.refusal.value
            ) from None
        except RatingProblem as problem:
            raise ProblemError(422, "Invalid request", str(problem)) from None


@router.get(
    "/{token}/cv/{application_id}",
    response_class=Response,
    responses={
        200: {"description": "The CV, of its stored type", "content": {t: {} for t in CV_TYPES}},
        **_LINK_REFUSED,
    },
)
def download_cv(
    token: str, application_id: UUID, db: DatabaseDep, storage: StorageDep, lang: LangQuery = None
) -> Response:
    """A candidate's CV, for this link's reviewer only."""
    with db.transaction() as session:
        access = open_link(session, token)
        if isinstance(access, Refusal):
            return _refused(access, lang)
        if application_id not in {c.application_id for c in access.candidates}:
            return _refused(Refusal.UNKNOWN, lang)
        application = session.get(Application, application_id)
        document = (
            session.get(Document, application.cv_document_id)
            if application is not None and application.cv_document_id
            else None
        )
        if document is None or document.organisation_id != access.reviewer.organisation_id:
            return _refused(Refusal.UNKNOWN, lang)
        filename, content_type, key = document.filename, document.content_type, document.storage_key
    return Response(
        storage.get(key),
        media_type=content_type,
        headers={
            **_HEADERS,
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )
