"""An applicant's erasure request: an emailed, expiring link that they must follow and confirm."""
from __future__ import annotations

from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from services.intake.applications.models import Application
from services.intake.db import OUTBOX
from shared.bus import publish_event
from shared.config import Settings, SettingsError
from shared.db import utcnow
from shared.events import make_event
from shared.web import ApiError

# a key of its own, derived from the applicant-token key: an erasure link opens no status page and vice versa
SALT = "nip.privacy.erasure-confirmation"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    if not settings.applicant_token_key:  # intake's web app refuses to start without it; never sign with nothing
        raise SettingsError("APPLICANT_TOKEN_KEY is not set")
    return URLSafeTimedSerializer(settings.applicant_token_key, salt=SALT)


def confirmation_link(settings: Settings, reference: str) -> str:
    token = _serializer(settings).dumps({"reference": reference})
    return f"{settings.intake_url.rstrip('/')}/privacy/erase/confirm?t={token}"


def request_erasure(*, session: Session, application: Application, settings: Settings) -> None:
    """Email the applicant a link to confirm the erasure (notify sends `application.access_requested`)."""
    expires_at = utcnow() + timedelta(hours=settings.access_link_hours)
    publish_event(session=session, outbox=OUTBOX, event=make_event("application.access_requested", {
        "reference": application.reference, "email": application.email, "name": application.full_name,
        "language": application.correspondence_language, "link": confirmation_link(settings, application.reference),
        "expires_at": expires_at, "purpose": "erasure"}, producer="intake"))


def confirmed_reference(settings: Settings, token: str | None) -> str:
    """The reference an erasure link names; a clear 4xx when it is damaged or expired."""
    if not token or len(token) > 500:
        raise ApiError(404, "invalid_link", "This erasure link is not valid.")
    try:
        data = _serializer(settings).loads(token, max_age=settings.access_link_hours * 3600)
    except SignatureExpired:
        raise ApiError(410, "link_expired", "This erasure link has expired; ask again from your status page.") from None
    except BadSignature:
        raise ApiError(404, "invalid_link", "This erasure link is not valid.") from None
    return str(data["reference"])
