"""``/talent-pool/{token}``: where an applicant extends their talent-pool consent.

The link comes in the reminder email (a random token, stored only as its SHA-256,
valid while the consent runs). Opening it shows a page with one button; only the POST
extends the consent, so link scanners and previews that fetch the page change nothing.
The page speaks the applicant's language (else the organisation's).
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Final

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from services.command_api.deps import DatabaseDep
from services.command_api.responses import html_page
from shared.db.models import Applicant, Organisation, TalentPoolConsent
from shared.db.types import utcnow
from shared.emails.formatting import format_date
from shared.emails.locales import Locale
from shared.retention.consent import consent_by_token, extend_consent
from shared.retention.policy import policy_of

router = APIRouter(prefix="/talent-pool", tags=["talent pool consent"])

Token = Annotated[str, Path(min_length=20, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

_TEXTS: Final[dict[Locale, dict[str, str]]] = {
    "en": {
        "title": "Your place in the talent pool",
        "ask": "{organisation} keeps your details in its talent pool until {expires}."
        " Would you like to stay until {until}?",
        "button": "Yes, keep my details until {until}",
        "otherwise": "If you do nothing, your details are erased after {expires}.",
        "done_title": "Thank you",
        "done": "{organisation} keeps your details in its talent pool until {until}.",
        "gone_title": "Link not valid",
        "gone": "This link is not valid (any more). Your consent may have ended already.",
    },
    "nl": {
        "title": "Je plek in de talentenpool",
        "ask": "{organisation} bewaart je gegevens in de talentenpool tot {expires}."
        " Wil je blijven tot {until}?",
        "button": "Ja, bewaar mijn gegevens tot {until}",
        "otherwise": "Doe je niets, dan worden je gegevens na {expires} gewist.",
        "done_title": "Dank je wel",
        "done": "{organisation} bewaart je gegevens in de talentenpool tot {until}.",
        "gone_title": "Link werkt niet",
        "gone": "Deze link werkt niet (meer). Misschien is je toestemming al afgelopen.",
    },
}

_PAGE: Final = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem 0}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""
_HEADERS: Final = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Frame-Options": "DENY",
}
_NOT_VALID = html_page("The link is not valid (any more): a page saying so")


def _page(locale: Locale, title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(lang=locale, title=escape(title), body=body),
        status_code=status,
        headers=_HEADERS,
    )


def _not_valid() -> HTMLResponse:
    texts = _TEXTS["en"]
    return _page("en", texts["gone_title"], f"<p>{escape(texts['gone'])}</p>", 404)


def _locale(applicant: Applicant | None, organisation: Organisation) -> Locale:
    chosen = (applicant.locale if applicant else None) or organisation.default_locale
    return "nl" if chosen == "nl" else "en"


@router.get("/{token}", response_class=HTMLResponse, responses={404: _NOT_VALID})
def show_consent(token: Token, db: DatabaseDep) -> HTMLResponse:
    """The question and one button (nothing changes until it is pressed)."""
    now = utcnow()
    with db.transaction() as session:
        consent = consent_by_token(session, token, now)
        if consent is None:
            return _not_valid()
        organisation, applicant = _whose(session, consent)
        policy = policy_of(session, consent.organisation_id)
        locale = _locale(applicant, organisation)
        values = {
            "organisation": escape(organisation.name),
            "expires": format_date(consent.expires_at, locale),
            "until": format_date(policy.consent_until(max(now, consent.expires_at)), locale),
        }
    texts = _TEXTS[locale]
    body = (
        f"<p>{texts['ask'].format(**values)}</p>"
        f'<form method="post"><button>{texts["button"].format(**values)}</button></form>'
        f"<p>{texts['otherwise'].format(**values)}</p>"
    )
    return _page(locale, texts["title"], body)


@router.post("/{token}", response_class=HTMLResponse, responses={404: _NOT_VALID})
def extend(token: Token, db: DatabaseDep) -> HTMLResponse:
    """Extends the consent by the policy's months; the link is used up."""
    now = utcnow()
    with db.transaction() as session:
        consent = consent_by_token(session, token, now)
        if consent is None:
            return _not_valid()
        organisation, applicant = _whose(session, consent)
        extend_consent(consent, policy_of(session, consent.organisation_id), now)
        locale = _locale(applicant, organisation)
        values = {
            "organisation": escape(organisation.name),
            "until": format_date(consent.expires_at, locale),
        }
    texts = _TEXTS[locale]
    return _page(locale, texts["done_title"], f"<p>{texts['done'].format(**values)}</p>")


def _whose(session: Session, consent: TalentPoolConsent) -> tuple[Organisation, Applicant | None]:
    organisation = session.get(Organisation, consent.organisation_id)
    assert organisation is not None
    return organisation, session.get(Applicant, consent.applicant_id)
