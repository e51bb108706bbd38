"""Accounts: creating and changing users, checking passwords (throttled per source and per account), the first
admin."""
from __future__ import annotations

import hashlib
import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, and_, delete, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.review.accounts import sessions, tokens
from services.review.accounts.models import MAX_USER_ID, LoginSourceThrottle, LoginThrottle, User
from services.review.reviews.service import Handover, hand_over_assignments
from shared.db import utcnow

log = logging.getLogger(__name__)
hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = hasher.hash("not-a-real-password-just-for-timing")


@dataclass(frozen=True)
class ThrottlePolicy:
    """Throttling an attacker cannot aim (OWASP Authentication Cheat Sheet, "Login Throttling").

    Per (account, source): `source_max_failures` failures refuse that source for that account until it has
    been quiet for `window`. Per account: past `free_failures`, each failure from anywhere doubles the wait
    (`first_wait`, capped at `max_wait`) that a source which has itself failed on the account must observe.
    A source that has not been failing is never refused: its right password always signs in.
    """
    source_max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    free_failures: int = 3
    first_wait: timedelta = timedelta(seconds=1)
    max_wait: timedelta = timedelta(minutes=5)

    def wait_after(self, failures: int) -> timedelta:
        """The wait the account's `failures`-th failure imposes on failing sources."""
        if failures <= self.free_failures:
            return timedelta(0)
        return min(self.max_wait, self.first_wait * 2 ** min(failures - self.free_failures - 1, 32))


DEFAULT_THROTTLE = ThrottlePolicy()


class DuplicateEmail(Exception):
    """A user with this email already exists."""


class TooManyAttempts(Exception):
    """This source has failed too often on this email: refused without checking the password, until `until`."""

    def __init__(self, until: datetime):
        super().__init__("too many attempts")
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


def source_key(address: str | None) -> str:
    """What a source is, as stored: the sha256 of an IPv4 address or of an IPv6 /64 (one subscriber's
    network: rotating addresses inside it is free, so it counts as one source)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        network = address or "unknown"
    else:
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        if isinstance(ip, ipaddress.IPv6Address) and mapped is None:
            network = str(ipaddress.ip_network(f"{ip}/64", strict=False))
        else:
            network = str(mapped or ip)
    return hashlib.sha256(network.encode()).hexdigest()


def _locked_row(session: Session, model, **key):
    # populate_existing: count on the locked row, not on the copy read before the password check
    return session.scalar(select(model).filter_by(**key).with_for_update()
                          .execution_options(populate_existing=True))


def _counter(session: Session, model, now: datetime, **key):
    """The counter row for `key`, locked, created when missing (a concurrent creator's row is used instead)."""
    row = _locked_row(session, model, **key)
    if row is None:
        row = model(**key, failures=0, last_failed_at=now)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            row = _locked_row(session, model, **key)
            assert row is not None, "the row whose insert conflicted with ours exists"
    return row


def _record_failure(*, session: Session, key: str, source: str, now: datetime, policy: ThrottlePolicy) -> None:
    quiet_since = now - policy.window
    account = _counter(session, LoginThrottle, now, email_hash=key)
    if account.failures and account.last_failed_at <= quiet_since:
        account.failures, account.wait_until = 0, None
    account.failures += 1
    account.last_failed_at = now
    wait = policy.wait_after(account.failures)
    account.wait_until = now + wait if wait else None
    mine = _counter(session, LoginSourceThrottle, now, email_hash=key, source_hash=source)
    if mine.failures and mine.last_failed_at <= quiet_since:
        mine.failures = 0
    mine.failures += 1
    mine.last_failed_at = now
    if mine.failures == policy.source_max_failures:
        log.warning("sign-in refused to one source after repeated failures", extra={"failures": mine.failures})
    # forget counters nobody has touched for a while, so guessed emails and sources do not pile up
    session.execute(delete(LoginThrottle).where(LoginThrottle.last_failed_at <= quiet_since,
                                                LoginThrottle.email_hash != key))
    session.execute(delete(LoginSourceThrottle).where(LoginSourceThrottle.last_failed_at <= quiet_since,
                                                      LoginSourceThrottle.email_hash != key))


def _refused_until(session: Session, key: str, source: str, now: datetime, policy: ThrottlePolicy) -> datetime | None:
    """When this source may try this email again, if it is refused now; None when it may try now."""
    mine = session.get(LoginSourceThrottle, (key, source), populate_existing=True)
    if mine is None or not mine.failures or mine.last_failed_at <= now - policy.window:
        return None  # a source that has not been failing is never refused
    if mine.failures >= policy.source_max_failures:
        return mine.last_failed_at + policy.window
    account = session.get(LoginThrottle, key, populate_existing=True)
    if account is not None and account.wait_until is not None and account.wait_until > now:
        return account.wait_until
    return None


def authenticate(*, session: Session, email: str, password: str, source: str | None = None,
                 policy: ThrottlePolicy = DEFAULT_THROTTLE) -> User | None:
    """The active user with these credentials, or None (never says which part was wrong).

    `source` is the client's address. Failures are counted per email (known or not) and per (email, source);
    TooManyAttempts when this source has been failing on this email and must wait (its own limit, or the
    account's doubling wait), checked before the password so a refused attempt costs no argon2 hash. A source
    with no recent failure on the email is always heard, so no one can lock another person out. The caller
    commits either way.
    """
    now = utcnow()
    key, src = email_hash(email), source_key(source)
    until = _refused_until(session, key, src, now, policy)
    if until is not None:
        raise TooManyAttempts(until)
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    try:
        hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        _record_failure(session=session, key=key, source=src, now=now, policy=policy)
        return None
    if user is None:  # the dummy hash never verifies; kept for safety
        return None
    # the right password clears this source's failures; the account's wait stays for the sources still failing
    session.execute(delete(LoginSourceThrottle).where(LoginSourceThrottle.email_hash == key,
                                                      LoginSourceThrottle.source_hash == src))
    if not user.active:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


def throttled_users(*, session: Session, users: list[User],
                    policy: ThrottlePolicy = DEFAULT_THROTTLE) -> set[int]:
    """Ids of those `users` whose sign-in is being throttled now: a doubling wait running, or a source refused."""
    by_hash = {email_hash(user.email): user.id for user in users}
    if not by_hash:
        return set()
    now = utcnow()
    waiting = session.scalars(select(LoginThrottle.email_hash).where(
        LoginThrottle.email_hash.in_(by_hash), LoginThrottle.wait_until > now)).all()
    refusing = session.scalars(select(LoginSourceThrottle.email_hash).where(
        LoginSourceThrottle.email_hash.in_(by_hash), LoginSourceThrottle.failures >= policy.source_max_failures,
        LoginSourceThrottle.last_failed_at > now - policy.window)).all()
    return {by_hash[h] for h in (*waiting, *refusing)}


def unlock(*, session: Session, user: User) -> bool:
    """Forget the failed sign-ins on this user's email, from every source; True when there were any."""
    key = email_hash(user.email)
    accounts = cast(CursorResult, session.execute(delete(LoginThrottle).where(LoginThrottle.email_hash == key)))
    sources = cast(CursorResult, session.execute(
        delete(LoginSourceThrottle).where(LoginSourceThrottle.email_hash == key)))
    return bool(accounts.rowcount or sources.rowcount)


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
