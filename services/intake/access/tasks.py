"""Periodic work of the way back in: drafts left too long are deleted."""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from flask import current_app

from services.intake.access.service import purge_drafts
from services.intake.db import db

log = logging.getLogger(__name__)


@shared_task(name="intake.purge_drafts")
def purge_old_drafts() -> int:
    """Delete drafts untouched for DRAFT_RETENTION_DAYS; safe to run twice."""
    days = current_app.config["SETTINGS"].draft_retention_days
    purged = purge_drafts(session=db.session, older_than=timedelta(days=days))
    db.session.commit()
    log.info("drafts purged", extra={"count": purged, "retention_days": days})
    return purged
