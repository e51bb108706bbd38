"""Reconciliation: every candidate-visible status change intake published has its email in the log.

Run by `python -m services.notify reconcile` and by beat (`notify.reconcile`). A status change with
no delivery gets one, recorded from intake's own event and sent like any other; a delivery is unique
per event id, so a status change never gets a second email, and a second run repairs nothing.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from services.notify.db import INBOX, db
from services.notify.deliveries import service
from services.notify.deliveries.models import Delivery
from services.notify.staff import service as staff
from shared.bus.sync import SETTLE, ReconcileReport, SyncClient, reconcile_job, settled
from shared.db import utcnow
from shared.events import load_event

log = logging.getLogger(__name__)
STATUS_CHANGED = "application.status_changed"


def _record(envelope: dict, intake_url: str) -> bool:
    """The missing delivery of one status change, committed; False when it exists after all."""
    session = db.session
    event = load_event(envelope)
    try:
        staff.record_departments(session=session, event=event)
        service.record_delivery(session=session, event=event, intake_url=intake_url, now=utcnow())
        if session.execute(select(INBOX.c.event_id).where(INBOX.c.event_id == event["id"])).first() is None:
            session.execute(insert(INBOX).values(event_id=event["id"], event_type=event["type"],
                                                 handled_at=utcnow()))
        session.commit()
    except IntegrityError:
        # the event's own delivery was recorded meanwhile: the unique event id keeps it to one
        session.rollback()
        return False
    except Exception:
        session.rollback()
        raise
    return True


def reconcile(*, settings, client: SyncClient | None = None, settle: timedelta = SETTLE) -> ReconcileReport:
    from services.notify.deliveries.tasks import send_if_pending

    client = client or SyncClient(settings.intake_sync_url or settings.intake_url, settings.sync_api_key)
    report, now = ReconcileReport(), utcnow()
    for page in client.pages():
        wanted = [(truth["reference"], ref["id"]) for truth in page if settled(truth, now, settle)
                  for ref in truth["events"] if ref["type"] == STATUS_CHANGED]
        report.checked += len(wanted)
        if not wanted:
            continue
        logged = set(db.session.scalars(select(Delivery.event_id).where(
            Delivery.event_id.in_([event_id for _, event_id in wanted]))))
        db.session.rollback()
        for reference, event_id in wanted:
            if event_id in logged:
                continue
            try:
                recorded = _record(client.event(event_id), settings.intake_url)
            except ValidationError as exc:
                # an event that does not verify (shared/events/signing.py) or is invalid: no email from it
                log.error("reconciliation refused an event", extra={"reference": reference, "event_id": event_id,
                                                                   "error": str(exc.messages)[:500]})
                report.unrepaired.append(f"{reference}:{event_id}")
                continue
            if recorded:
                log.info("missing email recorded", extra={"reference": reference, "event_id": event_id})
                report.repaired.append(f"{reference}:{event_id}")
                send_if_pending(event_id)
    log.info("reconciled", extra={"checked": report.checked, "repaired": len(report.repaired)})
    return report


@shared_task(name="notify.reconcile")
def reconcile_task() -> dict:
    """The beat job; logs, never raises, when intake cannot be read."""
    return reconcile_job(reconcile, current_app.config["SETTINGS"])
