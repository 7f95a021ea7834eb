"""The panel review invitation: to one reviewer, with a private link minted as it is sent.

Like the credentials email: the token is random, stored only as its SHA-256 on the
reviewer (replacing, and so revoking, any earlier link), valid until the review's due
date or 14 days; the live message carries it once, and the copy kept has it redacted.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final, cast
from uuid import UUID

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.mail_worker.credentials import redacted_copy
from services.mail_worker.jobs import Composed, TemplateFailure
from services.mail_worker.messages import build_message, sender_of
from shared.db.models import (
    Organisation,
    PanelReview,
    PanelReviewer,
    ScheduledJob,
    Vacancy,
)
from shared.db.types import utcnow
from shared.emails.formatting import format_date
from shared.emails.locales import Locale
from shared.emails.overrides import override_to_send
from shared.emails.rendering import render_email
from shared.emails.template_set import TemplatePartProblem
from shared.errors import PermanentError
from shared.settings import get_settings
from shared.templates.application_values import recruiter
from shared.tokens import hash_token, mint_token

log = structlog.get_logger(__name__)

LINK_VALIDITY: Final = timedelta(days=14)
PURPOSE: Final = "panel_review_invitation"


def compose_review_invitation(session: Session, job: ScheduledJob) -> Composed:
    reviewer = session.scalar(
        select(PanelReviewer)
        .where(
            PanelReviewer.id == UUID(job.payload["reviewer_id"]),
            PanelReviewer.organisation_id == job.organisation_id,
        )
        .with_for_update()
    )
    review = session.get(PanelReview, UUID(job.payload["review_id"]))
    if reviewer is None or review is None or review.organisation_id != job.organisation_id:
        raise PermanentError(f"panel review job {job.id}: reviewer or review not found")
    if reviewer.revoked_at is not None or review.status == "closed":
        raise PermanentError(f"panel review job {job.id}: reviewer revoked or review closed")
    organisation = session.get(Organisation, job.organisation_id)
    vacancy = session.get(Vacancy, review.vacancy_id)
    assert organisation is not None and vacancy is not None
    locale = cast(Locale, organisation.default_locale)

    now = utcnow()
    token = mint_token()
    reviewer.token_hash = hash_token(token)  # any earlier link stops working
    reviewer.token_expires_at = review.due_at or now + LINK_VALIDITY
    reviewer.invited_at = now
    session.flush()
    log.info("review.link_issued", reviewer_id=str(reviewer.id), review_id=str(review.id))

    base = get_settings().public_base_url.rstrip("/")
    context: dict[str, object] = {
        "reviewer_name": reviewer.name,
        "vacancy_title": vacancy.title,
        "organisation_name": organisation.name,
        "recruiter_name": recruiter(session, job) or organisation.name,
        "review_link": f"{base}/review/{token}",
        "due_date": format_date(review.due_at, locale) if review.due_at else "",
        "message": review.message or "",
    }
    override = override_to_send(session, job.organisation_id, PURPOSE, locale)
    try:
        rendered = render_email(
            PURPOSE, locale, context, override=None if override is None else override.templates
        )
    except TemplatePartProblem as problem:
        which = (
            "built-in template"
            if override is None
            else f"organisation template v{override.version}"
        )
        raise TemplateFailure(
            f"template_error: {PURPOSE}/{locale} {which}: {problem}",
            sender=sender_of(organisation),
            recipients=(reviewer.email,),
        ) from None
    message = build_message(organisation, rendered, to=[reviewer.email], language=locale)
    return Composed(
        message=message, recipient=reviewer.email, stored=redacted_copy(message.mime, token)
    )
