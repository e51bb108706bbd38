"""Accounts: creating and changing users, checking passwords (with a lock-out), the first admin."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, and_, delete, func, inspect, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.review.accounts import sessions, tokens
from services.review.accounts.models import MAX_USER_ID, LoginThrottle, User
from services.review.reviews.service import Handover, hand_over_assignments
from shared.db import utcnow

log = logging.getLogger(__name__)
hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = hasher.hash("not-a-real-password-just-for-timing")


@dataclass(frozen=True)
class LockoutPolicy:
    """`max_failures` failed sign-ins within `window` lock the email for `lockout`."""
    max_failures: int = 10
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


DEFAULT_LOCKOUT = LockoutPolicy()


class DuplicateEmail(Exception):
    """A user with this email already exists."""


class AccountLocked(Exception):
    """Too many failed sign-ins for this email: refused without checking the password."""

    def __init__(self, until: datetime):
        super().__init__("account locked")
        self.until = until


class LastAdmin(Exception):
    """The change would leave no active admin."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_hash(email: str) -> str:
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


def create_user(*, session: Session, email: str, password: str, role: str,
                departments: list[str] | tuple[str, ...] = (), language: str = "en") -> User:
    """Add a user (flushed, not committed); DuplicateEmail when the email is taken."""
    email = normalise_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise DuplicateEmail(email)
    user = User(email=email, password_hash=hasher.hash(password), role=role,
                departments=list(dict.fromkeys(departments)), active=True, language=language)
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        raise DuplicateEmail(email) from exc
    return user


def _throttle(session: Session, key: str) -> LoginThrottle | None:
    # populate_existing: count on the locked row, not on the copy read before the password check
    return session.scalar(select(LoginThrottle).where(LoginThrottle.email_hash == key).with_for_update()
                          .execution_options(populate_existing=True))


def _record_failure(*, session: Session, key: str, now: datetime, policy: LockoutPolicy) -> None:
    throttle = _throttle(session, key)
    if throttle is None:
        throttle = LoginThrottle(email_hash=key, failures=0, window_started_at=now)
        try:
            with session.begin_nested():
                session.add(throttle)
        except IntegrityError:
            # a concurrent failure for the same email created the row first: count on it
            throttle = _throttle(session, key)
            assert throttle is not None, "the row whose insert conflicted with ours exists"
    if throttle.window_started_at <= now - policy.window:
        throttle.failures, throttle.window_started_at = 0, now
    throttle.failures += 1
    if throttle.failures >= policy.max_failures:
        throttle.locked_until = now + policy.lockout
        log.warning("sign-in locked after repeated failures", extra={"failures": throttle.failures})
    # forget counters nobody has touched for a while, so guessed emails do not pile up
    session.execute(delete(LoginThrottle).where(
        LoginThrottle.window_started_at <= now - policy.window,
        or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
        LoginThrottle.email_hash != key))


def authenticate(*, session: Session, email: str, password: str,
                 policy: LockoutPolicy = DEFAULT_LOCKOUT) -> User | None:
    """The active user with these credentials, or None (never says which part was wrong).

    Counts failures per email (known or not); AccountLocked while the email is locked out, checked
    before the password so a locked email costs no argon2 hash. The caller commits either way.
    """
    now = utcnow()
    key = email_hash(email)
    throttle = session.scalar(select(LoginThrottle).where(LoginThrottle.email_hash == key))
    if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
        raise AccountLocked(throttle.locked_until)
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    try:
        hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        _record_failure(session=session, key=key, now=now, policy=policy)
        return None
    if user is None:  # the dummy hash never verifies; kept for safety
        return None
    if throttle is not None:
        session.delete(throttle)
    if not user.active:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


def locked_users(*, session: Session, users: list[User]) -> set[int]:
    """Ids of those `users` whose sign-in is locked now."""
    by_hash = {email_hash(user.email): user.id for user in users}
    if not by_hash:
        return set()
    rows = session.scalars(select(LoginThrottle.email_hash).where(
        LoginThrottle.email_hash.in_(by_hash), LoginThrottle.locked_until > utcnow())).all()
    return {by_hash[h] for h in rows}


def unlock(*, session: Session, user: User) -> bool:
    """Lift a sign-in lock-out (and forget past failures); True when there was one."""
    result = cast(CursorResult, session.execute(
        delete(LoginThrottle).where(LoginThrottle.email_hash == email_hash(user.email))))
    return bool(result.rowcount)


def get_user(*, session: Session, user_id: int) -> User | None:
    return session.get(User, user_id) if user_id <= MAX_USER_ID else None


def list_users(*, session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def _active_admins_other_than(session: Session, user: User) -> int:
    return session.scalar(select(func.count()).select_from(User).where(
        and_(User.role == "admin", User.active.is_(True), User.id != user.id))) or 0


def update_user(*, session: Session, user: User, by: str, active: bool | None = None, role: str | None = None,
                departments: list[str] | None = None, language: str | None = None) -> Handover:
    """Change a user's status, role or departments (not committed) on behalf of the admin `by`.

    Deactivating ends their browser sessions and refresh tokens at once; role and departments are read
    afresh on every request, so they take effect at the next one. The open assignments the change leaves
    them unable to keep go to other reviewers in the same transaction (what became of them is returned).
    LastAdmin when the change would leave no active admin.
    """
    stays_admin = (role or user.role) == "admin" and (user.active if active is None else active)
    if user.is_admin and user.active and not stays_admin and not _active_admins_other_than(session, user):
        raise LastAdmin()
    if role is not None:
        user.role = role
    if departments is not None:
        user.departments = list(dict.fromkeys(departments))
    if language is not None:
        user.language = language
    if active is not None and active != user.active:
        user.active = active
        if not active:
            ended = sessions.revoke_all(session=session, user_id=user.id)
            revoked = tokens.revoke_all(session=session, user_id=user.id)
            log.info("user deactivated", extra={"user_id": user.id, "sessions_ended": ended,
                                                "refresh_tokens_revoked": revoked})
    return hand_over_assignments(session=session, reviewer=user, actor=by)


def ensure_first_admin(*, session: Session, email: str | None, password: str | None) -> bool:
    """Create the admin from settings when the users table exists and is empty; commits."""
    if not email or not password:
        return False
    if not inspect(session.get_bind()).has_table(User.__tablename__):
        log.warning("users table missing: run `python -m services.review migrate`; no first admin created")
        session.rollback()
        return False
    if session.scalar(select(func.count()).select_from(User)):
        session.rollback()
        return False
    try:
        create_user(session=session, email=email, password=password, role="admin")
        session.commit()
    except DuplicateEmail:
        # another process started at the same moment and created it
        session.rollback()
        return False
    log.info("first admin created")
    return True
