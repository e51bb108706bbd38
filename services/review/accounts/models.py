"""Staff accounts (admins, coordinators, reviewers), their browser sessions, refresh tokens and
failed sign-in counters."""
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from services.review.db import Base
from shared.auth import StaffIdentity
from shared.db import utcnow

ROLES = ("admin", "coordinator", "reviewer")
LANGUAGES = ("en", "fr")


# users.id is an INTEGER column (32 bits on PostgreSQL): a larger id, though a valid id for the API
# (shared/bounds.py), names no user, and the database would refuse it in a query
MAX_USER_ID = 2**31 - 1


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    departments: Mapped[list] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    # the language of the user's pages and labels: en or fr
    language: Mapped[str] = mapped_column(String(2), default="en", server_default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def identity(self) -> StaffIdentity:
        return StaffIdentity(self.id, self.email, self.role, tuple(self.departments or ()))


class StaffSession(Base):
    """One browser sign-in. The cookie carries a random id; only its sha256 is stored, so a copy of the
    table cannot be replayed as cookies. Live while not revoked and used within the idle limit."""
    __tablename__ = "staff_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class RefreshToken(Base):
    """A single-use refresh token (sha256 stored). Each refresh marks it used and issues the next one in
    the same family; presenting a used one again means it was stolen, and the whole family is revoked."""
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Recent failed sign-ins for one email address, known or not (so the throttle reveals no account), from
    anywhere: each failure past a few doubles the wait a failing source must observe. Keyed by the sha256 of
    the normalised email: no address is stored in clear. Forgotten after a quiet window."""
    __tablename__ = "login_throttles"

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # before this moment a source that has failed on this account is refused; a clean source is not
    wait_until: Mapped[datetime | None]


class LoginSourceThrottle(Base):
    """Recent failed sign-ins for one email address from one source (an IPv4 address, an IPv6 /64): the limit
    that stops one guesser without touching anyone else. The source is stored as a sha256 only."""
    __tablename__ = "login_source_throttles"

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
