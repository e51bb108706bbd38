"""Periodic work of the portal: links long expired are deleted."""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task

from services.intake.db import db
from services.intake.portal.links import purge

log = logging.getLogger(__name__)
# an expired link is kept a week, so that opening it still says "expired" (and offers a fresh one)
KEPT_AFTER_EXPIRY = timedelta(days=7)


@shared_task(name="intake.purge_portal_links")
def purge_expired_links() -> int:
    """Delete links expired for a week; safe to run twice."""
    purged = purge(session=db.session, older_than=KEPT_AFTER_EXPIRY)
    db.session.commit()
    log.info("portal links purged", extra={"count": purged})
    return purged
