"""Learning staff scope from events, and building reviewers' digests. Never commits."""
from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from services.notify.deliveries.models import STAFF
from services.notify.deliveries.service import record_email
from services.notify.staff.models import ApplicationDepartment, Assignment

log = logging.getLogger(__name__)
_DEPARTMENTS = cast(Table, ApplicationDepartment.__table__)
# an application's departments made what the event says: those no longer listed dropped, new ones added
_SYNC_DEPARTMENTS = text(
    "WITH dropped AS (DELETE FROM application_departments WHERE reference = :reference"
    " AND department <> ALL(CAST(:departments AS varchar[])))"
    " INSERT INTO application_departments (reference, department)"
    " SELECT :reference, unnest(CAST(:departments AS varchar[])) ON CONFLICT DO NOTHING")
# a digest's event id: derived from the reviewer and the assignments it lists, so it is recorded once
DIGEST_NAMESPACE = uuid.UUID("6f1c0d52-3f59-4a43-9a8c-2f0b1a7e5d10")


def record_departments(*, session: Session, event: dict) -> None:
    """Remember an application's departments, when its status change carries them."""
    data = event["data"]
    departments = data.get("departments")
    if departments is None:
        return
    reference, codes = data["reference"], list(dict.fromkeys(departments))
    if session.get_bind().dialect.name == "postgresql":
        # one statement built once: this runs with every email, and the ORM's objects and flush (or even a Core
        # statement built per call) cost four times as much as this (bench/notify.py)
        session.execute(_SYNC_DEPARTMENTS, {"reference": reference, "departments": codes})
        return
    session.execute(delete(_DEPARTMENTS).where(_DEPARTMENTS.c.reference == reference,
                                               _DEPARTMENTS.c.department.not_in(codes)))
    if codes:
        session.execute(sqlite.insert(_DEPARTMENTS).values([{"reference": reference, "department": code}
                                                            for code in codes]).on_conflict_do_nothing())


def record_assignment(*, session: Session, event: dict) -> Assignment:
    """Remember that a reviewer was assigned an application: their scope, and their next digest."""
    data = event["data"]
    reviewer = data["reviewer"]
    assignment = Assignment(event_id=event["id"], reference=data["reference"], reviewer_id=reviewer["id"],
                            reviewer_email=reviewer["email"], language=reviewer["language"],
                            assigned_at=data["assigned_at"])
    session.add(assignment)
    session.flush()
    return assignment


def forget_assignment(*, session: Session, event: dict) -> None:
    """An assignment review took back: out of the reviewer's scope and next digest. One made again after it
    (an event that arrives later, or first when delivered out of order, but dated after) stays."""
    data = event["data"]
    session.execute(delete(Assignment).where(Assignment.reference == data["reference"],
                                             Assignment.reviewer_id == data["reviewer_id"],
                                             Assignment.assigned_at <= data["unassigned_at"]))


def record_digests(*, session: Session, review_url: str, now: datetime) -> list[str]:
    """One digest email per reviewer with assignments no digest listed yet; returns their event ids."""
    rows = session.scalars(select(Assignment).where(Assignment.digested_at.is_(None))
                           .order_by(Assignment.reviewer_id, Assignment.assigned_at, Assignment.id)
                           # two beat runs at once: the second skips what the first is digesting
                           .with_for_update(skip_locked=True)).all()
    by_reviewer: dict[int, list[Assignment]] = defaultdict(list)
    for row in rows:
        by_reviewer[row.reviewer_id].append(row)
    event_ids = []
    for reviewer_id, assignments in by_reviewer.items():
        latest = assignments[-1]  # the newest account details the events carried
        event_id = str(uuid.uuid5(DIGEST_NAMESPACE, ",".join(str(a.id) for a in assignments)))
        listed = list(dict.fromkeys(a.reference for a in assignments))
        record_email(session=session, event_id=event_id, reference=None, kind=STAFF, template="digest",
                     language=latest.language, recipient=latest.reviewer_email, now=now,
                     context={"applications": [{"reference": ref} for ref in listed],
                              "review_url": review_url.rstrip("/")})
        for assignment in assignments:
            assignment.digested_at = now
        event_ids.append(event_id)
        log.info("digest recorded", extra={"reviewer_id": reviewer_id, "applications": len(listed)})
    session.flush()
    return event_ids
