"""Refresh tokens: random, single use, stored as sha256, rotated on each refresh.

A refresh token handed in twice means a copy is in someone else's hands: every token of its family
(the chain started by one sign-in) is revoked, so neither the thief nor the owner can go on.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from services.review.accounts.models import RefreshToken, User
from shared.db import utcnow

log = logging.getLogger(__name__)
DEFAULT_REFRESH_TTL = timedelta(hours=12)


class RefreshRefused(Exception):
    """The refresh token is unknown, expired, revoked, reused, or its user is deactivated."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(*, session: Session, user: User, ttl: timedelta = DEFAULT_REFRESH_TTL,
          family: str | None = None) -> str:
    """A new refresh token for `user` (not committed), starting a family unless one is given.

    The user's expired tokens are dropped on the way (until then a spent one still betrays a replay).
    """
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(delete(RefreshToken).where(RefreshToken.user_id == user.id, RefreshToken.expires_at <= now))
    session.add(RefreshToken(token_hash=_hash(token), family=family or secrets.token_hex(16), user_id=user.id,
                             created_at=now, expires_at=now + ttl))
    return token


def _revoke_family(session: Session, family: str) -> None:
    session.execute(update(RefreshToken).where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=utcnow()))


def rotate(*, session: Session, token: str, ttl: timedelta = DEFAULT_REFRESH_TTL) -> tuple[User, str]:
    """Spend `token` and issue its successor (not committed): the user and the new token.

    RefreshRefused otherwise; the caller commits in that case too, so a detected reuse stays revoked.
    """
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _hash(token)).with_for_update()
                         .execution_options(populate_existing=True))
    if row is None:
        raise RefreshRefused("unknown")
    now = utcnow()
    if row.revoked_at is not None:
        raise RefreshRefused("revoked")
    if row.used_at is not None:
        _revoke_family(session, row.family)
        log.warning("refresh token reused: family revoked", extra={"user_id": row.user_id})
        raise RefreshRefused("reused")
    if row.expires_at <= now:
        raise RefreshRefused("expired")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        _revoke_family(session, row.family)
        raise RefreshRefused("inactive")
    row.used_at = now
    return user, issue(session=session, user=user, ttl=ttl, family=row.family)


def revoke_all(*, session: Session, user_id: int) -> int:
    """Revoke every live refresh token of a user (not committed); returns how many."""
    live = update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
    result = cast(CursorResult, session.execute(live.values(revoked_at=utcnow())))
    return result.rowcount or 0
