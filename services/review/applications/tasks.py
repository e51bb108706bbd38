"""The review service's event consumer (queue `review.events`)."""
from __future__ import annotations

import logging

from celery import shared_task
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError

from services.review.applications.events import HANDLERS
from services.review.db import INBOX, db
from shared.bus import consume

log = logging.getLogger(__name__)


@shared_task(name="review.handle_event", autoretry_for=(OperationalError, IntegrityError),
             retry_backoff=True, max_retries=8)
def handle_event(envelope: dict) -> bool:
    """Apply one event to the read model, exactly once; False when seen before or unusable."""
    try:
        return consume(session=db.session, inbox=INBOX, envelope=envelope, handlers=HANDLERS)
    except ValidationError as exc:
        # a malformed event will never become valid: drop it rather than retry forever
        log.error("invalid event dropped", extra={"event_id": envelope.get("id") if isinstance(envelope, dict)
                                                  else None, "errors": exc.messages})
        db.session.rollback()
        return False
