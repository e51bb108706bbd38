"""Periodic work of the way back in: drafts left too long, and files held after a refused form, are deleted."""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from flask import current_app

from services.intake.access.service import purge_drafts, purge_held_uploads
from services.intake.db import db

log = logging.getLogger(__name__)


@shared_task(name="intake.purge_drafts")
def purge_old_drafts() -> int:
    """Delete drafts untouched for DRAFT_RETENTION_DAYS, and files held after a refused form for a day; safe to
    run twice."""
    days = current_app.config["SETTINGS"].draft_retention_days
    purged = purge_drafts(session=db.session, older_than=timedelta(days=days))
    held = purge_held_uploads(session=db.session)
    db.session.commit()
    log.info("drafts purged", extra={"count": purged, "retention_days": days, "held_uploads": held})
    return purged
