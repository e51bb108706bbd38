"""Single-use, expiring links that open an application's portal. Callers commit.

The secret is 256 random bits carried only in the emailed URL; the database keeps its sha256, so a copy of the
database opens nothing. A link is spent the first time it is opened, and refused after `ACCESS_LINK_HOURS`.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from services.intake.portal.models import PortalLink
from shared.db import utcnow

# token_urlsafe(32) is 43 characters; anything far longer is not one of ours
MAX_SECRET_LENGTH = 100


class LinkRefused(Exception):
    """A link that opens nothing: `problem` is used, expired or invalid; `reference` is known unless invalid."""

    def __init__(self, problem: str, reference: str | None = None):
        super().__init__(problem)
        self.problem, self.reference = problem, reference


def secret_digest(secret: str) -> str:
    """What is stored of a secret handed out once (a link, a held upload's id): its sha256."""
    return hashlib.sha256(secret.encode()).hexdigest()


def mint(*, session: Session, reference: str, language: str) -> tuple[str, datetime]:
    """A new link to `reference`'s portal, in `language`, and when it expires."""
    settings = current_app.config["SETTINGS"]
    secret = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(hours=settings.access_link_hours)
    session.add(PortalLink(secret_sha256=secret_digest(secret), reference=reference, expires_at=expires_at))
    return f"{settings.intake_url.rstrip('/')}/access/{secret}?lang={language}", expires_at


def link_data(*, session: Session, reference: str, language: str) -> dict:
    """What a status change's event carries so that its email opens the portal: `link` and `link_expires_at`."""
    link, expires_at = mint(session=session, reference=reference, language=language)
    return {"link": link, "link_expires_at": expires_at}


def redeem(*, session: Session, secret: str) -> str:
    """Spend the link and return its application's reference; LinkRefused otherwise (nothing spent)."""
    if not secret or len(secret) > MAX_SECRET_LENGTH or not secret.isascii():
        raise LinkRefused("invalid")
    digest, now = secret_digest(secret), utcnow()
    # one statement decides: of two tabs opening the same link at once, one wins
    spent = cast(CursorResult, session.execute(
        update(PortalLink).where(PortalLink.secret_sha256 == digest, PortalLink.used_at.is_(None),
                                 PortalLink.expires_at > now).values(used_at=now)))
    link = session.scalars(select(PortalLink).where(PortalLink.secret_sha256 == digest)).first()
    if link is None:
        raise LinkRefused("invalid")
    if spent.rowcount != 1:
        raise LinkRefused("used" if link.used_at is not None else "expired", link.reference)
    return link.reference


def reference_of(*, session: Session, secret: str) -> str | None:
    """The application a link of ours was made for, used or not, without spending it."""
    if not secret or len(secret) > MAX_SECRET_LENGTH or not secret.isascii():
        return None
    return session.scalar(select(PortalLink.reference).where(PortalLink.secret_sha256 == secret_digest(secret)))


def forget(*, session: Session, reference: str) -> None:
    """Drop every link of `reference` (its erasure)."""
    session.execute(delete(PortalLink).where(PortalLink.reference == reference))


def purge(*, session: Session, older_than: timedelta) -> int:
    """Delete links expired for longer than `older_than`."""
    result = cast(CursorResult, session.execute(
        delete(PortalLink).where(PortalLink.expires_at < utcnow() - older_than)))
    return result.rowcount or 0
