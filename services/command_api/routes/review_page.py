"""``/review/{token}``: the page where a panel reviewer rates candidates 1 to 7 stars.

Server-rendered, no JavaScript: a form per review with a radio group of seven options
(a ``fieldset`` with a ``legend``) and a comment per candidate. Saving posts the form
(with a double-submit CSRF token) and redirects back, so a reload shows what is stored.
``PUT /review/{token}/ratings`` takes the same ratings as JSON. A link that does not
work shows a friendly page with the right status and no data.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any, Final
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool

from services.command_api.deps import DatabaseDep, SettingsDep, StorageDep
from services.command_api.problems import ProblemError
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
from services.command_api.review_texts import TEXTS, PageLocale
from shared.db.database import Database
from shared.db.models import Application, Document
from shared.emails.formatting import format_date

router = APIRouter(prefix="/review", tags=["panel review page"])

CSRF_COOKIE: Final = "werving_review_csrf"
_PAGES: Final = Environment(
    loader=PackageLoader("services.command_api", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
)
_HEADERS: Final = {
    # No script, no outside resource, no framing; forms post back here only.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
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
    secure: bool = False,
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
    response = _html(
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
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="strict",
        path="/review",
        max_age=86_400,
        secure=secure,
    )
    return response


def _open(db: Database, token: str) -> ReviewAccess | Refusal:
    with db.transaction() as session:
        return open_link(session, token)


@router.get("/{token}", response_class=HTMLResponse)
def show_review(
    token: str,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    lang: LangQuery = None,
    saved: bool = False,
) -> HTMLResponse:
    access = _open(db, token)
    if isinstance(access, Refusal):
        return _refused(access, lang)
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    secure = settings.public_base_url.startswith("https:")  # the cookie only over TLS then
    return _page(access, token, _locale(access, lang), csrf, saved=saved, secure=secure)


@router.post("/{token}", response_class=HTMLResponse)
async def save_review(
    token: str, request: Request, db: DatabaseDep, lang: LangQuery = None
) -> Response:
    form = await request.form()
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = str(form.get("csrf", ""))
    if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
        t = TEXTS[_locale(None, lang)]
        return _html(
            "error", 403, lang=_locale(None, lang), title=t["error_title"], t=t, reason=t["csrf"]
        )
    fields = {key: str(value) for key, value in form.items()}
    return await run_in_threadpool(_save_form, db, token, fields, lang, cookie)


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


@router.put("/{token}/ratings", tags=["panel review page"])
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


@router.get("/{token}/cv/{application_id}")
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
