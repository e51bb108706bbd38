"""Accounts: creating users, checking passwords, the first admin."""
from __future__ import annotations

import logging

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.review.accounts.models import User

log = logging.getLogger(__name__)
hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = hasher.hash("not-a-real-password-just-for-timing")


class DuplicateEmail(Exception):
    """A user with this email already exists."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(*, session: Session, email: str, password: str, role: str,
                departments: list[str] | tuple[str, ...] = ()) -> User:
    """Add a user (flushed, not committed); DuplicateEmail when the email is taken."""
    email = normalise_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise DuplicateEmail(email)
    user = User(email=email, password_hash=hasher.hash(password), role=role,
                departments=list(dict.fromkeys(departments)), active=True)
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        raise DuplicateEmail(email) from exc
    return user


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None (never says which part was wrong)."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    try:
        hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


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
