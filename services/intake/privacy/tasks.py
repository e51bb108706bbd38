"""The retention jobs beat runs: erase applications past their period; purge stored files nothing refers to."""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from flask import current_app

from services.intake.db import db
from services.intake.privacy import erasure
from services.intake.privacy.retention import due_for_erasure, orphaned_documents
from shared.db import utcnow
from shared.documents import DocumentStore

log = logging.getLogger(__name__)


def _store() -> DocumentStore:
    return DocumentStore.of(current_app.config["SETTINGS"])


def apply_retention(*, dry_run: bool) -> list[tuple[str, str]]:
    """Erase (or with `dry_run` only list) every application past the retention period; one transaction each."""
    settings = current_app.config["SETTINGS"]
    due = due_for_erasure(session=db.session, now=utcnow(), months=settings.retention_months)
    db.session.rollback()
    if dry_run:
        return due
    for reference, _status in due:
        erasure.run_erasure(session=db.session, store=_store(), reference=reference, reason=erasure.RETENTION)
    if due:
        log.info("retention erased applications", extra={"count": len(due)})
    return due


def purge_orphans(*, dry_run: bool) -> list[str]:
    """Delete (or list) stored files no application, document or draft refers to any more."""
    settings, store = current_app.config["SETTINGS"], _store()
    orphans = orphaned_documents(session=db.session, store=store, now=utcnow(),
                                 grace=timedelta(hours=settings.orphan_upload_grace_hours))
    db.session.rollback()
    if not dry_run:
        erasure.delete_documents(store, orphans)
        if orphans:
            log.info("orphaned documents purged", extra={"count": len(orphans)})
    return orphans


@shared_task(name="intake.retention")
def retention_task() -> int:
    return len(apply_retention(dry_run=False))


@shared_task(name="intake.purge_orphans")
def purge_orphans_task() -> int:
    return len(purge_orphans(dry_run=False))
