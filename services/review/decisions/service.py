"""Recording, revising and releasing decisions."""
from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.review.applications.models import Application
from services.review.applications.service import get_application
from services.review.audit import service as audit
from services.review.db import OUTBOX
from services.review.decisions.models import Decision
from shared.auth import StaffIdentity
from shared.bus import publish_event
from shared.db import utcnow
from shared.events import make_event
from shared.web import ApiError

log = logging.getLogger(__name__)


def decision_for(*, session: Session, reference: str) -> Decision | None:
    return session.scalar(select(Decision).where(Decision.reference == reference))


def _admins_only(staff: StaffIdentity) -> None:
    # the views check this too; kept here so no future caller can skip it
    if not staff.is_admin:
        raise ApiError(403, "forbidden", "Only the programme office (admins) records and releases decisions.")


def record_decision(*, session: Session, staff: StaffIdentity, reference: str, decision: str,
                    reason_code: str | None = None, note: str | None = None) -> Decision:
    """Record or revise (admins only) the decision on an application under review (not committed).

    Each revision raises the decision's version.
    """
    _admins_only(staff)
    application = get_application(session=session, staff=staff, reference=reference)
    if application is None:
        raise ApiError(404, "not_found", "No such application.")
    current = session.scalar(select(Decision).where(Decision.reference == reference).with_for_update()
                             .execution_options(populate_existing=True))
    if current is not None and current.released:
        raise ApiError(409, "already_released", "The decision was released and can no longer change.")
    if application.status != "under_review":
        raise ApiError(409, "not_under_review",
                            f"Only an application under review can be decided (this one is {application.status}).")
    revised = current is not None
    if current is None:
        current = Decision(reference=reference, version=1)
    else:
        current.version += 1
    current.decision, current.reason_code, current.note = decision, reason_code, note or None
    current.decided_by, current.decided_at = staff.email, utcnow()
    try:
        with session.begin_nested():
            session.add(current)
    except IntegrityError as exc:
        raise ApiError(409, "conflict", "Someone recorded a decision at the same moment; reload.") from exc
    audit.record(session=session, actor=staff.email, action="decision.recorded", reference=reference,
                 details={"decision": decision, "reason_code": reason_code, "revised": revised,
                          "version": current.version})
    return current


def release_decisions(*, session: Session, staff: StaffIdentity, references: list[str],
                      versions: Mapping[str, int] | None = None) -> tuple[list[str], list[dict]]:
    """Release recorded decisions (admins only) and queue `decision.released` for each (not committed).

    `versions` maps references to the version the admin confirmed: a decision revised since then is not
    released but skipped with reason `changed`, so a release sends exactly what was confirmed.
    """
    _admins_only(staff)
    versions = versions or {}
    released, skipped = [], []
    for reference in dict.fromkeys(references):
        # populate_existing: the locked row's values, not those of a copy loaded earlier in this session
        decision = session.scalar(select(Decision).where(Decision.reference == reference).with_for_update()
                                  .execution_options(populate_existing=True))
        status = session.scalar(select(Application.status).where(Application.reference == reference))
        if decision is None:
            skipped.append({"reference": reference, "reason": "no_decision"})
            continue
        if decision.released:
            skipped.append({"reference": reference, "reason": "already_released"})
            continue
        if reference in versions and versions[reference] != decision.version:
            skipped.append({"reference": reference, "reason": "changed"})
            continue
        if status != "under_review":
            # withdrawn (or otherwise moved on) since the decision was recorded
            skipped.append({"reference": reference, "reason": "not_under_review"})
            continue
        decision.released_at, decision.released_by = utcnow(), staff.email
        publish_event(session=session, outbox=OUTBOX, event=make_event(
            "decision.released",
            {"reference": reference, "decision": decision.decision, "reason_code": decision.reason_code,
             "released_by": staff.email},
            producer="review"))
        audit.record(session=session, actor=staff.email, action="decision.released", reference=reference,
                     details={"decision": decision.decision, "reason_code": decision.reason_code,
                              "version": decision.version})
        released.append(reference)
    log.info("decisions released", extra={"released": len(released), "skipped": len(skipped)})
    return released, skipped
