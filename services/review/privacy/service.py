"""What review holds of a person, erased or anonymised; who viewed what. Never commits: the use case does."""
from __future__ import annotations

import logging
from datetime import datetime
from functools import wraps

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from services.review.applications.models import Application
from services.review.audit.service import views_of
from services.review.db import DEAD_LETTERS
from services.review.decisions.models import Decision
from services.review.reviews.models import Review

log = logging.getLogger(__name__)
ERASED_NAME = "(erased)"


def anonymise(*, session: Session, reference: str, erased_at: datetime) -> bool:
    """Drop the person from the read model, reviews' comments and decisions' notes; False when already done."""
    application = session.scalar(select(Application).where(Application.reference == reference).with_for_update())
    if application is None or application.erased_at is not None:
        return False
    # scores, statuses, departments and session stay: they are not about who the person is
    application.name, application.given_name, application.family_name = ERASED_NAME, None, None
    application.email = application.nationality = application.date_of_birth = None
    application.education = application.languages = None
    application.problems = []
    application.dossier_key = application.dossier_pages = application.dossier_sha256 = None
    application.blind_dossier_key = application.blind_dossier_pages = application.blind_dossier_sha256 = None
    application.dossier_flags = []
    application.erased_at = erased_at
    session.execute(update(Review).where(Review.reference == reference).values(comment=""))
    session.execute(update(Decision).where(Decision.reference == reference).values(note=None))
    session.execute(delete(DEAD_LETTERS).where(DEAD_LETTERS.c.body.like(f'%"{reference}"%')))
    return True


def on_erased(*, session: Session, event: dict) -> None:
    data = event["data"]
    if anonymise(session=session, reference=data["reference"], erased_at=data["erased_at"]):
        log.info("application anonymised", extra={"reference": data["reference"]})


def unless_erased(handler):
    """A read-model handler that leaves an erased application alone."""
    # an event delayed or redelivered after the erasure must not bring the person back

    @wraps(handler)
    def apply(*, session: Session, event: dict) -> None:
        erased = session.scalar(select(Application.erased_at).where(
            Application.reference == event["data"]["reference"]))
        if erased is not None:
            log.info("event about an erased application ignored", extra={"reference": event["data"]["reference"],
                                                                        "event_type": event["type"]})
            return
        handler(session=session, event=event)

    return apply


def access_log(*, session: Session, reference: str) -> list[dict]:
    """Who among staff viewed the application's personal data, what and when (for the applicant's export)."""
    return [{"who": entry.actor, "what": entry.action, "when": entry.at.isoformat()}
            for entry in views_of(session=session, reference=reference)]
