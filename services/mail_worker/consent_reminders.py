"""The talent-pool consent reminder: to the applicant, with a private link minted as it
is sent.

Like the review invitation: the token is random, stored only as its SHA-256 on the
consent (replacing any earlier link), valid while the consent runs; the live message
carries it once, and the copy kept has it redacted.
"""

from __future__ import annotations

from email.utils import formataddr
from typing import Final
from uuid import UUID

import structlog
from sqlalchemy.orm import Session

from services.mail_worker.credentials import redacted_copy
from services.mail_worker.jobs import ClaimReads, Composed, TemplateFailure
from services.mail_worker.messages import build_message, sender_of
from shared.db.models import ScheduledJob, TalentPoolConsent
from shared.db.types import utcnow
from shared.emails.formatting import format_date
from shared.emails.overrides import override_to_send
from shared.emails.rendering import render_email
from shared.emails.template_set import TemplatePartProblem
from shared.errors import PermanentError
from shared.retention.policy import policy_of
from shared.settings import get_settings
from shared.templates.application_values import job_subject
from shared.tokens import hash_token, mint_token

log = structlog.get_logger(__name__)

PURPOSE: Final = "talent_pool_consent"
LINK_PATH: Final = "/talent-pool/"


def compose_consent_reminder(session: Session, job: ScheduledJob, reads: ClaimReads) -> Composed:
    subject = reads.subject or job_subject(session, job)
    applicant, organisation, locale = subject.applicant, subject.organisation, subject.locale
    consent = session.get(
        TalentPoolConsent, UUID(job.payload["applicant_id"]), with_for_update=True
    )
    now = utcnow()
    if (
        consent is None
        or consent.organisation_id != job.organisation_id
        or consent.applicant_id != applicant.id
        or consent.expires_at <= now
    ):
        raise PermanentError(f"consent reminder {job.id}: no running consent to extend")
    token = mint_token()
    consent.token_hash = hash_token(token)  # any earlier link stops working
    session.flush()
    log.info("consent.link_issued", applicant_id=str(applicant.id))

    policy = policy_of(session, job.organisation_id)
    context = subject.values(None) | {
        "recruiter_name": "",  # the organisation signs it, once
        "consent_expires": format_date(consent.expires_at, locale),
        "extended_until": format_date(policy.consent_until(max(now, consent.expires_at)), locale),
        "extend_link": f"{get_settings().public_base_url.rstrip('/')}{LINK_PATH}{token}",
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
            recipients=(applicant.email,),
        ) from None
    message = build_message(
        organisation,
        rendered,
        to=[formataddr((applicant.name, applicant.email))],
        language=locale,
    )
    return Composed(
        message=message, recipient=applicant.email, stored=redacted_copy(message.mime, token)
    )
