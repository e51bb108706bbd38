"""Use cases of the portal's way in: emailing a fresh single-use link. Callers commit."""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from services.intake import limits
from services.intake.access.service import publish_access_link
from services.intake.access.models import Draft
from services.intake.applications.models import Application
from services.intake.portal import links

log = logging.getLogger(__name__)


def email_link(*, session: Session, application: Application, purpose: str = "status", counted: bool = False) -> bool:
    """Email the application's owner a fresh link to its portal (`purpose` "status", or "duplicate" when someone
    tried to apply again with their details), unless the address had its share of such emails (already
    `counted` by the caller); whether it went."""
    if not counted and not limits.may_email(application.email):
        log.info("portal link not emailed: recipient limit", extra={"reference": application.reference})
        return False
    language = application.correspondence_language
    link, expires_at = links.mint(session=session, reference=application.reference, language=language)
    publish_access_link(session=session, reference=application.reference, email=application.email,
                        name=application.full_name, language=language, link=link, expires_at=expires_at,
                        purpose=purpose)
    log.info("portal link emailed", extra={"reference": application.reference, "purpose": purpose})
    return True


def email_draft_link(*, session: Session, draft: Draft, language: str) -> bool:
    """Email the draft's address a single-use link back to the form, filled in; whether it went (the recipient
    limit as for `email_link`)."""
    if not limits.may_email(draft.email):
        log.info("draft link not emailed: recipient limit", extra={"reference": draft.reference})
        return False
    link, expires_at = links.mint(session=session, reference=draft.reference, language=language)
    name = " ".join(draft.values.get(k, "").strip() for k in ("given_name", "family_name")).strip()
    publish_access_link(session=session, reference=draft.reference, email=draft.email, name=name, language=language,
                        link=link, expires_at=expires_at, purpose="draft")
    return True
