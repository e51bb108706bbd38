"""Reconciliation: the read model against intake's truth, repaired by re-applying intake's own events.

Run by `python -m services.review reconcile` and by beat (`review.reconcile`). An application that is
missing or differs (status, departments, check, dossier) gets all its events applied again through
the same handlers, submitted first; the handlers upsert, so a second run finds nothing to repair.
The inbox is bypassed on purpose: a row can be lost or stale although its events were recorded as
handled; they are recorded now if they were not, so the originals arriving late change nothing.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import insert, select

from services.review.applications.events import HANDLERS
from services.review.applications.models import Application
from services.review.db import INBOX, db
from shared.bus.sync import SETTLE, ReconcileReport, SyncClient, reconcile_job, settled
from shared.db import utcnow
from shared.events import load_event

log = logging.getLogger(__name__)


def differences(truth: dict, row: Application | None) -> list[str]:
    """What of intake's truth the read model does not show."""
    if row is None:
        return ["missing"]
    found = []
    if row.submitted_at is None:
        found.append("submission")
    if truth["status"] is not None and row.status != truth["status"]:
        found.append("status")
    if row.department_codes != truth["departments"]:
        found.append("departments")
    if truth["checked"] and row.checked_at is None:
        found.append("check")
    dossier = ({"key": row.dossier_key, "pages": row.dossier_pages, "sha256": row.dossier_sha256}
               if row.dossier_key else None)
    if dossier != truth["dossier"]:
        found.append("dossier")
    return found


def _rows(references: list[str]) -> dict[str, Application]:
    rows = db.session.scalars(select(Application).where(Application.reference.in_(references))
                              .execution_options(populate_existing=True)).all()
    return {row.reference: row for row in rows}


def _reapply(envelopes: list[dict]) -> None:
    """Apply intake's events for one application in one transaction."""
    session = db.session
    try:
        for envelope in envelopes:
            event = load_event(envelope)
            handler = HANDLERS.get(event["type"])
            if handler is None:
                continue
            handler(session=session, event=event)
            session.flush()
            if session.execute(select(INBOX.c.event_id).where(INBOX.c.event_id == event["id"])).first() is None:
                session.execute(insert(INBOX).values(event_id=event["id"], event_type=event["type"],
                                                     handled_at=utcnow()))
        session.commit()
    except Exception:
        session.rollback()
        raise


def reconcile(*, settings, client: SyncClient | None = None, settle: timedelta = SETTLE) -> ReconcileReport:
    """Compare every submitted application with the read model and repair what differs."""
    client = client or SyncClient(settings.intake_sync_url or settings.intake_url, settings.sync_api_key)
    report, now = ReconcileReport(), utcnow()
    for page in client.pages():
        page = [truth for truth in page if settled(truth, now, settle)]
        report.checked += len(page)
        rows = _rows([truth["reference"] for truth in page])
        diverged = [(truth, found) for truth in page if (found := differences(truth, rows.get(truth["reference"])))]
        db.session.rollback()
        for truth, found in diverged:
            log.info("read model differs from intake", extra={"reference": truth["reference"], "what": found})
            try:
                _reapply(client.events(truth["events"]))
            except ValidationError as exc:
                # an event that does not verify (shared/events/signing.py) or is invalid: applied nowhere, the
                # application stays different, the run goes on with the others
                log.error("reconciliation refused an event", extra={"reference": truth["reference"],
                                                                   "error": str(exc.messages)[:500]})
                report.unrepaired.append(truth["reference"])
                db.session.rollback()
                continue
            if differences(truth, _rows([truth["reference"]]).get(truth["reference"])):
                report.unrepaired.append(truth["reference"])
            else:
                report.repaired.append(truth["reference"])
            db.session.rollback()
    log.info("reconciled", extra={"checked": report.checked, "repaired": len(report.repaired),
                                  "unrepaired": len(report.unrepaired)})
    return report


@shared_task(name="review.reconcile")
def reconcile_task() -> dict:
    """The beat job: repair the read model; logs, never raises, when intake cannot be read."""
    return reconcile_job(reconcile, current_app.config["SETTINGS"])
