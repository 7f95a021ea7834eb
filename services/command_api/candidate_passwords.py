"""Candidate portal passwords: chosen with a one-time link, checked at login.

* Passwords are stored only as argon2id hashes (argon2-cffi's default profile, RFC 9106
  low-memory, above the OWASP floor), and rehashed at login when the profile changes.
* A set-password token is looked up by its SHA-256 within the caller's organisation and
  consumed with one conditional UPDATE, so two concurrent uses cannot both succeed.
* Five failed logins in a row lock an account for 15 minutes; a small limiter per
  process also slows guessing at usernames that have no account at all.
* Argon2 runs outside any transaction, so a slow hash never holds a database lock.

Nothing here logs a password, a token or a username; accounts are named by id.
"""

from __future__ import annotations

import math
import secrets
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Final, Literal
from uuid import UUID

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from shared.db.database import Database
from shared.db.models import CandidateAccount, SetPasswordToken
from shared.tokens import hash_token

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]

PASSWORD_MIN_CHARS: Final = 12
PASSWORD_MAX_CHARS: Final = 128
MAX_FAILED_LOGINS: Final = 5
LOCKOUT: Final = timedelta(minutes=15)

_hasher: Final = PasswordHasher()


# -- set a password with a one-time token ------------------------------------------------

TokenProblem = Literal["unknown", "revoked", "used", "expired"]


class TokenRefused(Exception):  # noqa: N818 - names the outcome, like the others here
    """The token does not open anything; nothing was changed."""

    def __init__(self, problem: TokenProblem) -> None:
        super().__init__(f"set-password token {problem}")
        self.problem = problem


def set_password(
    db: Database, organisation_id: UUID, token: str, password: str, *, now: datetime
) -> None:
    """Consume ``token`` and give its account ``password``; raises :class:`TokenRefused`."""
    token_hash = hash_token(token)
    with db.transaction() as session:
        _check_token(session, organisation_id, token_hash, now)
    password_hash = _hasher.hash(password)
    with db.transaction() as session:
        account_id = session.scalar(
            update(SetPasswordToken)
            .where(
                SetPasswordToken.organisation_id == organisation_id,
                SetPasswordToken.token_hash == token_hash,
                SetPasswordToken.used_at.is_(None),
                SetPasswordToken.revoked_at.is_(None),
                SetPasswordToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(SetPasswordToken.account_id)
        )
        if account_id is None:  # changed since the check (another request won): say how
            _check_token(session, organisation_id, token_hash, now)
            raise TokenRefused("used")
        session.execute(
            update(CandidateAccount)
            .where(
                CandidateAccount.id == account_id,
                CandidateAccount.organisation_id == organisation_id,
            )
            .values(
                password_hash=password_hash,
                password_set_at=now,
                failed_logins=0,
                locked_until=None,
            )
        )
    log.info("candidate.password_set", account_id=str(account_id))


def _check_token(session: Session, organisation_id: UUID, token_hash: str, now: datetime) -> None:
    row = session.scalar(
        select(SetPasswordToken).where(
            SetPasswordToken.organisation_id == organisation_id,
            SetPasswordToken.token_hash == token_hash,
        )
    )
    if row is None:
        raise TokenRefused("unknown")
    if row.used_at is not None:
        raise TokenRefused("used")
    if row.revoked_at is not None:
        raise TokenRefused("revoked")
    if row.expires_at <= now:
        raise TokenRefused("expired")


# -- log in ----------------------------------------------------------------------------


class LoginFailed(Exception):  # noqa: N818
    """Unknown username or wrong password: the caller cannot tell which."""


class LoginLocked(Exception):  # noqa: N818
    """Too many attempts; try again after ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"locked for {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class _Account:
    id: UUID
    applicant_id: UUID
    password_hash: str | None
    locked_until: datetime | None


def log_in(
    db: Database, organisation_id: UUID, username: str, password: str, *, now: datetime
) -> UUID:
    """The applicant id of the account that ``username`` and ``password`` open.

    Raises :class:`LoginFailed`, or :class:`LoginLocked` while the account is locked.
    """
    with db.transaction() as session:
        accounts = _accounts(session, organisation_id, username)
    locks = [a.locked_until for a in accounts if a.locked_until and a.locked_until > now]
    if locks:
        raise LoginLocked(_seconds_until(max(locks), now))
    matched = _verify(accounts, password)
    ids = [a.id for a in accounts]
    if matched is None:
        if ids:
            _count_failure(db, organisation_id, ids, now)
        log.info("candidate.login_failed", accounts=len(ids))
        raise LoginFailed
    assert matched.password_hash is not None
    new_hash = _hasher.hash(password) if _hasher.check_needs_rehash(matched.password_hash) else None
    with db.transaction() as session:
        values: dict[str, object] = {"failed_logins": 0, "locked_until": None}
        if new_hash is not None:
            values["password_hash"] = new_hash
        session.execute(
            update(CandidateAccount)
            .where(
                CandidateAccount.id == matched.id,
                CandidateAccount.organisation_id == organisation_id,
                CandidateAccount.password_hash == matched.password_hash,
            )
            .values(**values)
        )
    log.info("candidate.logged_in", account_id=str(matched.id), rehashed=new_hash is not None)
    return matched.applicant_id


def _accounts(session: Session, organisation_id: UUID, username: str) -> list[_Account]:
    # Usernames are email addresses; an applicant who applied twice may have two accounts.
    rows = session.execute(
        select(
            CandidateAccount.id,
            CandidateAccount.applicant_id,
            CandidateAccount.password_hash,
            CandidateAccount.locked_until,
        ).where(
            CandidateAccount.organisation_id == organisation_id,
            func.lower(CandidateAccount.username) == username.strip().lower(),
        )
    ).all()
    return [_Account(*row) for row in rows]


def _verify(accounts: Sequence[_Account], password: str) -> _Account | None:
    with_password = [a for a in accounts if a.password_hash is not None]
    if not with_password:
        _matches(_dummy_hash(), password)  # the same work as a wrong password: no timing hint
        return None
    for account in with_password:
        assert account.password_hash is not None
        if _matches(account.password_hash, password):
            return account
    return None


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _count_failure(db: Database, organisation_id: UUID, ids: list[UUID], now: datetime) -> None:
    # One statement reading the old count, so concurrent failures all count; the fifth
    # locks the account and starts the count afresh for after the lock.
    failed = CandidateAccount.failed_logins + 1
    with db.transaction() as session:
        session.execute(
            update(CandidateAccount)
            .where(
                CandidateAccount.id.in_(ids),
                CandidateAccount.organisation_id == organisation_id,
            )
            .values(
                failed_logins=case((failed >= MAX_FAILED_LOGINS, 0), else_=failed),
                locked_until=case(
                    (failed >= MAX_FAILED_LOGINS, now + LOCKOUT),
                    else_=CandidateAccount.locked_until,
                ),
            )
        )


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


# -- per-process limiter ---------------------------------------------------------------


class LoginLimiter:
    """At most ``attempts`` logins per (organisation, username) in a sliding ``window``,
    in this process. It also covers usernames without an account, which the lockout
    in the database cannot."""

    MAX_KEYS: Final = 10_000

    def __init__(self, attempts: int = 10, window: timedelta = timedelta(minutes=1)) -> None:
        self._attempts = attempts
        self._window = window
        self._seen: dict[tuple[UUID, str], deque[datetime]] = {}
        self._lock = threading.Lock()

    def check(self, organisation_id: UUID, username: str, now: datetime) -> None:
        """Count an attempt; raises :class:`LoginLocked` when over the limit."""
        key = (organisation_id, username.strip().lower())
        with self._lock:
            if len(self._seen) >= self.MAX_KEYS:
                self._forget_before(now - self._window)
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - self._window:
                seen.popleft()
            if len(seen) >= self._attempts:
                raise LoginLocked(_seconds_until(seen[0] + self._window, now))
            seen.append(now)

    def _forget_before(self, horizon: datetime) -> None:
        stale = [key for key, seen in self._seen.items() if not seen or seen[-1] <= horizon]
        for key in stale:
            del self._seen[key]
        if len(self._seen) >= self.MAX_KEYS:  # all recent: start over rather than grow
            self._seen.clear()
