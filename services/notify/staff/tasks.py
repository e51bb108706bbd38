"""The reviewers' daily digest (beat: `notify.send_digests`)."""
from __future__ import annotations

from celery import shared_task
from flask import current_app

from services.notify.db import db
from services.notify.deliveries.tasks import send_if_pending
from services.notify.staff import service
from shared.db import utcnow


@shared_task(name="notify.send_digests")
def send_digests() -> int:
    """Record one digest per reviewer with new assignments, commit, then send them; returns how many.

    Safe to run twice: an assignment is marked digested in the digest's own transaction, and a digest
    left pending by a crash is sent by `notify.retry_overdue`.
    """
    settings = current_app.config["SETTINGS"]
    event_ids = service.record_digests(session=db.session, review_url=settings.review_url, now=utcnow())
    db.session.commit()
    for event_id in event_ids:
        send_if_pending(event_id)
    return len(event_ids)
