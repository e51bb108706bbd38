"""Celery tasks of the `notify.email` queue: handle status changes, send and retry emails."""
from __future__ import annotations

import logging
import time
from typing import Callable

from celery import shared_task
from flask import current_app
from sqlalchemy.exc import OperationalError

from services.notify.db import DEAD_LETTERS, INBOX, db
from services.notify import mailbox_enabled
from services.notify.deliveries import service
from services.notify.privacy import service as privacy
from services.notify.staff import service as staff
from shared.bus import consume
from shared.bus.consumer import event_consumer
from shared.db import utcnow

log = logging.getLogger(__name__)

QUEUE = "notify.email"
# the database away for a while must not lose the event: Celery acknowledges failed tasks
RETRY_WHILE_DATABASE_DOWN = {"autoretry_for": (OperationalError,), "retry_backoff": True,
                             "retry_backoff_max": 600, "max_retries": 20}


def on_erased(*, session, event):
    """Blank the person's deliveries; in embedded mode also drop the catcher's copies."""
    data, settings = event["data"], current_app.config["SETTINGS"]
    privacy.erase_deliveries(session=session, reference=data["reference"], erased_at=data["erased_at"])
    if mailbox_enabled(settings):
        privacy.erase_caught_mail(settings.mail_dir, data["reference"])


def _handlers(intake_url: str) -> dict:
    def on_status_changed(*, session, event):
        staff.record_departments(session=session, event=event)
        service.record_delivery(session=session, event=event, intake_url=intake_url, now=utcnow())

    def on_access_requested(*, session, event):
        service.record_access_email(session=session, event=event, now=utcnow())

    def on_review_assigned(*, session, event):
        staff.record_assignment(session=session, event=event)

    def on_review_unassigned(*, session, event):
        staff.forget_assignment(session=session, event=event)

    # an erased person gets no more email, whatever arrives late (services/notify/privacy)
    return {"application.status_changed": privacy.unless_erased(on_status_changed),
            "application.access_requested": privacy.unless_erased(on_access_requested),
            "review.assigned": on_review_assigned,
            "review.unassigned": on_review_unassigned,
            "application.erased": on_erased}


@event_consumer(name="notify.handle_event", service="notify", database=db, dead_letters=DEAD_LETTERS)
def handle_event(envelope: dict) -> None:
    """Record the email an event calls for (exactly once) and send it, with any whose retry is overdue, in one
    transaction: the event, its delivery and the outcome of the send are committed together.

    Failures to record are retried, then dead-lettered (never dropped); a failed send is the
    delivery's own retry schedule (`deliver`, `retry_overdue`).
    """
    handlers = _handlers(current_app.config["SETTINGS"].intake_url)

    def record() -> None:
        consume(session=db.session, inbox=INBOX, envelope=envelope, handlers=handlers, commit=False)

    record()
    redo: Callable[[], None] | None = record
    if db.session.get_bind().dialect.name == "sqlite":
        # embedded mode: SQLite has one writer per database, and this transaction holds its lock from the inbox
        # insert on; committed before the SMTP exchange, the other workers do not wait through it (or its timeout)
        db.session.commit()
        redo = None
    # also when the event was handled before: a redelivered message finishes an interrupted send
    _send(service.batch_for_update(session=db.session, event_id=str(envelope["id"]), now=utcnow(),
                                   limit=SEND_BATCH), record=redo)


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


def send_if_pending(event_id: str) -> None:
    """Send the pending email of an event, if there is one, and commit the outcome."""
    _send(service.batch_for_update(session=db.session, event_id=event_id, now=None, limit=1))


# The emails one transaction sends before it commits their outcomes: a crash between the sending and
# that commit leaves them pending, to be sent again (docs/events.md). Small, so that window stays small;
# more than one, so that a backlog costs one commit per batch rather than per email.
SEND_BATCH = 20


def _send(batch: list[service.Outgoing], record: Callable[[], None] | None = None) -> None:
    """Send locked pending deliveries over the one connection, commit their outcomes (with what `record` wrote in
    the same transaction) once, schedule retries."""
    retries = {}
    if batch:
        settings = current_app.config["SETTINGS"]
        retries = service.attempt_deliveries(deliveries=batch, sender=current_app.extensions["notify.sender"],
                                             from_address=settings.smtp_from, reply_to=settings.smtp_reply_to)
    _commit_outcomes(batch, record)
    for event_id, retry_in in retries.items():
        try:
            deliver.apply_async(args=[event_id], countdown=retry_in, queue=QUEUE)
        except Exception:
            # the delivery stays pending; retry_overdue picks it up once the broker is back
            log.exception("could not schedule a retry", extra={"event_id": event_id})


COMMIT_ATTEMPTS = 5


def _commit_outcomes(batch: list[service.Outgoing], record: Callable[[], None] | None) -> None:
    """Commit what the SMTP attempts did. The emails are gone by now: a database connection cut at this
    moment must not leave the deliveries pending (or, when the event's own delivery was recorded in this very
    transaction, unrecorded), for their retries or the redelivered event would send them a second time. So the
    transaction is written again on a fresh connection: the event recorded again (a no-op when the first
    commit went through after all), then the outcomes (a delivery no longer pending is left alone)."""
    for attempt in range(COMMIT_ATTEMPTS):
        try:
            if attempt and record is not None:
                record()
            service.record_outcomes(session=db.session, batch=batch)
            db.session.commit()
            break
        except OperationalError:
            if attempt == COMMIT_ATTEMPTS - 1:
                raise
            log.warning("could not record emails' outcomes, trying again", extra={"emails": len(batch)})
            db.session.remove()
            time.sleep(0.2 * 2 ** attempt)
    # written past the ORM: a delivery this session loaded must not show its state from before
    db.session.expire_all()


from services.notify.deliveries import reconcile  # noqa: E402,F401  (registers notify.reconcile)
