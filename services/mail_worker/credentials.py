"""The credentials email's account and one-time link, minted when the email is composed.

Never a password: the applicant gets a portal account without one (``password_hash``
None) and a link to choose it. Each composition mints a new token and revokes the
account's earlier unused ones, so a resend never leaves two live links. Only the SHA-256
of the token is stored; the composed email keeps it in memory for the one send, and the
copy of the email kept for the record has the token replaced by :data:`REDACTED`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Final

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.db.models import Applicant, CandidateAccount, SetPasswordToken
from shared.db.types import utcnow
from shared.emails.formatting import format_datetime
from shared.emails.locales import Locale
from shared.ids import new_id
from shared.tokens import hash_token, mint_token

log = structlog.get_logger(__name__)

LINK_VALIDITY: Final = timedelta(hours=72)
LINK_PATH: Final = "/set-password"
REDACTED: Final = "[redacted]"


@dataclass(frozen=True, slots=True)
class SetPasswordLink:
    """A freshly minted link. ``token`` exists only here, never in the database."""

    username: str
    token: str
    url: str
    expires_at: datetime

    def __repr__(self) -> str:  # never show the token, not even in a traceback
        return f"SetPasswordLink(username={self.username!r}, expires_at={self.expires_at})"

    def template_values(self, locale: Locale) -> dict[str, object]:
        return {
            "username": self.username,
            "set_password_link": self.url,
            "set_password_expires": format_datetime(self.expires_at, locale),
        }


def issue_set_password_link(
    session: Session, applicant: Applicant, *, base_url: str, now: datetime | None = None
) -> SetPasswordLink:
    """Get or create the applicant's account, revoke its unused links, mint a new one."""
    now = now or utcnow()
    account = _account(session, applicant, now)
    revoked = session.scalars(
        update(SetPasswordToken)
        .where(
            SetPasswordToken.organisation_id == applicant.organisation_id,
            SetPasswordToken.account_id == account.id,
            SetPasswordToken.used_at.is_(None),
            SetPasswordToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .returning(SetPasswordToken.id)
        .execution_options(synchronize_session=False)
    ).all()
    token = mint_token()
    expires_at = now + LINK_VALIDITY
    session.add(
        SetPasswordToken(
            id=new_id(),
            organisation_id=applicant.organisation_id,
            account_id=account.id,
            token_hash=hash_token(token),
            expires_at=expires_at,
            created_at=now,
        )
    )
    session.flush()
    log.info(
        "credentials.link_issued",
        account_id=str(account.id),
        revoked_links=len(revoked),
        expires_at=expires_at.isoformat(),
    )
    return SetPasswordLink(
        username=account.username,
        token=token,
        url=f"{base_url.rstrip('/')}{LINK_PATH}?token={token}",
        expires_at=expires_at,
    )


def _account(session: Session, applicant: Applicant, now: datetime) -> CandidateAccount:
    account = session.scalar(
        select(CandidateAccount).where(
            CandidateAccount.organisation_id == applicant.organisation_id,
            CandidateAccount.applicant_id == applicant.id,
        )
    )
    if account is not None:
        return account
    account = CandidateAccount(
        id=new_id(),
        organisation_id=applicant.organisation_id,
        applicant_id=applicant.id,
        username=applicant.email,
        password_hash=None,
        failed_logins=0,
        created_at=now,
    )
    session.add(account)
    session.flush()
    log.info("credentials.account_created", account_id=str(account.id))
    return account


def redacted_copy(message: bytes, secret: str) -> bytes:
    """A copy of ``message`` with ``secret`` replaced by :data:`REDACTED` in every text part.

    Replaced in the decoded text and encoded again, so a quoted-printable soft line break
    inside the token cannot hide it from the replacement. Headers (Message-ID, Date) stay.
    """
    copy = message_from_bytes(message, _class=EmailMessage, policy=policy.default)
    assert isinstance(copy, EmailMessage)
    for part in copy.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        assert isinstance(part, EmailMessage)
        content = part.get_content()
        if secret in content:
            part.set_content(content.replace(secret, REDACTED), subtype=part.get_content_subtype())
    if any(secret in str(value) for value in copy.values()):
        raise ValueError("the secret is in a header; refusing to keep this email")
    return copy.as_bytes()
