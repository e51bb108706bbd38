"""Celery tasks of the `notify.email` queue: handle status changes, send and retry emails."""
from __future__ import annotations

import logging
import time

from celery import shared_task
from flask import current_app
from sqlalchemy.exc import OperationalError

from services.notify.db import DEAD_LETTERS, INBOX, db
from services.notify.deliveries import service
from shared.bus import consume
from shared.bus.consumer import event_consumer
from shared.db import utcnow

log = logging.getLogger(__name__)

QUEUE = "notify.email"
# the database away for a while must not lose the event: Celery acknowledges failed tasks
RETRY_WHILE_DATABASE_DOWN = {"autoretry_for": (OperationalError,), "retry_backoff": True,
                             "retry_backoff_max": 600, "max_retries": 20}


def _handlers(intake_url: str) -> dict:
    def on_status_changed(*, session, event):
        service.record_delivery(session=session, event=event, intake_url=intake_url, now=utcnow())

    return {"application.status_changed": on_status_changed}


@event_consumer(name="notify.handle_event", service="notify", database=db, dead_letters=DEAD_LETTERS)
def handle_event(envelope: dict) -> None:
    """Record the email a status change calls for (exactly once), then send it.

    Failures to record are retried, then dead-lettered (never dropped); a failed send is the
    delivery's own retry schedule (`deliver`, `retry_overdue`).
    """
    settings = current_app.config["SETTINGS"]
    consume(session=db.session, inbox=INBOX, envelope=envelope, handlers=_handlers(settings.intake_url))
    # also when the event was handled before: a redelivered message finishes an interrupted send
    send_if_pending(str(envelope["id"]))


@shared_task(name="notify.deliver", **RETRY_WHILE_DATABASE_DOWN)
def deliver(event_id: str) -> None:
    """Try again to send the email of one event, if it is still pending."""
    send_if_pending(event_id)


@shared_task(name="notify.retry_overdue")
def retry_overdue() -> int:
    """Reschedule pending emails whose retry was lost (run periodically by beat)."""
    event_ids = service.overdue_event_ids(session=db.session, now=utcnow())
    db.session.rollback()
    for event_id in event_ids:
        deliver.apply_async(args=[event_id], queue=QUEUE)
    return len(event_ids)


def send_if_pending(event_id: str) -> str | None:
    """Send the pending email of an event and commit the outcome; returns the delivery's state."""
    session = db.session
    delivery = service.pending_delivery_for_update(session=session, event_id=event_id)
    if delivery is None:
        session.rollback()
        return None
    settings = current_app.config["SETTINGS"]
    retry_in = service.attempt_delivery(delivery=delivery, sender=current_app.extensions["notify.sender"],
                                        from_address=settings.smtp_from, now=utcnow())
    state, reference = delivery.state, delivery.reference
    _commit_outcome(session, delivery, event_id)
    if retry_in is not None:
        try:
            deliver.apply_async(args=[event_id], countdown=retry_in, queue=QUEUE)
        except Exception:
            # the delivery stays pending; retry_overdue picks it up once the broker is back
            log.exception("could not schedule a retry", extra={"event_id": event_id, "reference": reference})
    return state


OUTCOME = ("state", "attempts", "sent_at", "next_attempt_at", "last_error")
COMMIT_ATTEMPTS = 5


def _commit_outcome(session, delivery, event_id: str) -> None:
    """Commit what the SMTP attempt did. The email is gone by now: a database connection cut at this moment
    must not roll the delivery back to pending (and the event's retry send it a second time), so the
    outcome is written again on a fresh connection."""
    outcome = {name: getattr(delivery, name) for name in OUTCOME}
    for attempt in range(COMMIT_ATTEMPTS):
        try:
            if attempt:
                session = db.session
                row = service.pending_delivery_for_update(session=session, event_id=event_id)
                if row is None:  # the first commit went through after all
                    session.rollback()
                    return
                for name, value in outcome.items():
                    setattr(row, name, value)
            session.commit()
            return
        except OperationalError:
            if attempt == COMMIT_ATTEMPTS - 1:
                raise
            log.warning("could not record an email's outcome, trying again", extra={"event_id": event_id})
            db.session.remove()
            time.sleep(0.2 * 2 ** attempt)


from services.notify.deliveries import reconcile  # noqa: E402,F401  (registers notify.reconcile)
