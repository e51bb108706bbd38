"""Retention: applications of a call whose period has passed are erased by the beat job, after a dry run
shows which; stored files nothing refers to are purged after their grace period."""
from __future__ import annotations

import os
import time
from datetime import timedelta

from sqlalchemy import select, update

from services.intake.applications.models import Application
from services.intake.privacy.models import Tombstone
from services.intake.privacy.tasks import apply_retention, purge_orphans, retention_task
from services.intake.programme.models import Call
from shared.db import utcnow
from shared.documents import DocumentStore
from tests.factories import application_payload, make_pdf, multipart


def submit(client, pdf, proof, **fields):
    return client.post("/api/v1/applications", data=multipart(application_payload(**fields), cv=pdf,
                                                                  academic_proof=proof),
                       content_type="multipart/form-data").get_json()["reference"]


def age(session, call, *, months: int) -> None:
    """Move the call's deadline and its applications' last change `months` into the past."""
    past = utcnow() - timedelta(days=31 * months)
    session.execute(update(Call).where(Call.id == call.id).values(deadline=past))
    session.execute(update(Application).where(Application.call_id == call.id).values(updated_at=past))
    session.commit()


def test_dry_run_lists_then_the_job_erases_what_is_past_retention(session, client, call, pdf, proof):
    old = submit(client, pdf, proof)
    age(session, call, months=13)

    listed = apply_retention(dry_run=True)
    assert listed == [(old, "submitted")]
    assert session.scalar(select(Application).where(Application.reference == old)) is not None

    assert retention_task.run() == 1
    assert session.scalar(select(Application).where(Application.reference == old)) is None
    assert session.scalar(select(Tombstone.reason).where(Tombstone.reference == old)) == "retention"
    assert apply_retention(dry_run=True) == []


def test_nothing_is_erased_within_the_period(session, client, call, pdf, proof):
    submit(client, pdf, proof)
    age(session, call, months=11)
    assert apply_retention(dry_run=False) == []


def test_orphaned_uploads_are_purged_after_their_grace_period(app, session, client, pdf, proof):
    reference = submit(client, pdf, proof)
    store = DocumentStore(app.config["SETTINGS"].documents_dir)
    orphan = store.put(make_pdf("Uploaded, then the request failed"))
    fresh = store.put(make_pdf("Uploaded a moment ago"))
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(store.root / orphan, (two_days_ago, two_days_ago))
    for key in store.keys():
        if key not in (orphan, fresh):
            os.utime(store.root / key, (two_days_ago, two_days_ago))  # the application's own, old but in use

    assert purge_orphans(dry_run=True) == [orphan]
    assert store.exists(orphan)
    assert purge_orphans(dry_run=False) == [orphan]
    assert not store.exists(orphan) and store.exists(fresh)
    status = session.scalar(select(Application.status).where(Application.reference == reference))
    assert status == "submitted" and len(list(store.keys())) == 3
