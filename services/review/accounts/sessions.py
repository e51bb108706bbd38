"""Server-side records of browser sessions, so signing out, going idle or being deactivated ends a
session even for someone holding a copy of the cookie."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import cast

from flask import current_app, session as flask_session
from sqlalchemy import CursorResult, delete, or_, update
from sqlalchemy.orm import Session

from services.review.accounts.models import StaffSession, User
from services.review.db import db
from shared.db import utcnow

DEFAULT_IDLE_LIMIT = timedelta(hours=8)  # a working day
# last_seen is written at most this often, so browsing does not turn every page view into a write
TOUCH_INTERVAL = timedelta(minutes=1)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(*, session: Session, user: User, idle_limit: timedelta = DEFAULT_IDLE_LIMIT) -> str:
    """Record a new session for `user` (not committed); returns the id for the cookie.

    The user's ended sessions are dropped on the way, so the table holds only what may still be live.
    """
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(delete(StaffSession).where(
        StaffSession.user_id == user.id,
        or_(StaffSession.revoked_at.is_not(None), StaffSession.last_seen_at <= now - idle_limit)))
    session.add(StaffSession(id_hash=_hash(session_id), user_id=user.id, created_at=now, last_seen_at=now))
    return session_id


def live_user(*, session: Session, session_id: str | None, user_id: int, idle_limit: timedelta,
              now: datetime | None = None) -> User | None:
    """The active user of a live session (not revoked, used within `idle_limit`), or None.

    Refreshes last_seen (not committed) when it is older than TOUCH_INTERVAL.
    """
    if not session_id:
        return None
    now = now or utcnow()
    row = session.get(StaffSession, _hash(session_id))
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        return None
    if row.last_seen_at <= now - idle_limit:
        row.revoked_at = now
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if row.last_seen_at <= now - TOUCH_INTERVAL:
        row.last_seen_at = now
    return user


def end(*, session: Session, session_id: str | None) -> None:
    """Revoke one session (not committed)."""
    if session_id:
        session.execute(update(StaffSession).where(StaffSession.id_hash == _hash(session_id),
                                                   StaffSession.revoked_at.is_(None))
                        .values(revoked_at=utcnow()))


def revoke_all(*, session: Session, user_id: int) -> int:
    """Revoke every live session of a user (not committed); returns how many."""
    live = update(StaffSession).where(StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None))
    result = cast(CursorResult, session.execute(live.values(revoked_at=utcnow())))
    return result.rowcount or 0


# The key of the server-side session id in Flask's (signed) session cookie.
COOKIE_KEY = "sid"


def idle_limit() -> timedelta:
    return current_app.config.get("STAFF_SESSION_IDLE", DEFAULT_IDLE_LIMIT)


def load_session_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the user of a live session, else None, and then everything the
    cookie carried (the CSRF token too) is dropped, so nothing of a dead session works again."""
    user = live_user(session=db.session, session_id=flask_session.get(COOKIE_KEY),
                     user_id=int(user_id) if user_id.isdigit() else -1, idle_limit=idle_limit())
    if db.session.dirty:
        # the touch or the idle revocation, on its own: the request's use case has not begun yet
        db.session.commit()
    if user is None:
        flask_session.clear()
    return user
