"""Recording, revising and releasing decisions."""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.review.applications.models import Application
from services.review.applications.service import filtered, get_application
from services.review.audit import service as audit
from services.review.db import OUTBOX
from services.review.decisions.models import Decision, DecisionProposal, proposal_open
from shared.auth import StaffIdentity
from shared.bus import publish_event
from shared.db import utcnow
from shared.events import make_event
from shared.web import ApiError

log = logging.getLogger(__name__)

Revisable = TypeVar("Revisable", Decision, DecisionProposal)


def decision_for(*, session: Session, reference: str) -> Decision | None:
    return session.scalar(select(Decision).where(Decision.reference == reference))


def _admins_only(staff: StaffIdentity) -> None:
    # the views check this too; kept here so no future caller can skip it
    if not staff.is_admin:
        raise ApiError(403, "forbidden", "Only the programme office (admins) records and releases decisions.")


def _save_revision(*, session: Session, model: type[Revisable], row: Revisable | None, reference: str,
                   conflict: str, **fields) -> Revisable:
    """`row` with its version raised (a new `model` at version 1 when None) and `fields` set, saved in a savepoint."""
    if row is None:
        row = model(reference=reference, version=1)
    else:
        row.version += 1
    for name, value in fields.items():
        setattr(row, name, value)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:  # another first one saved at the same moment: the unique reference refused ours
        raise ApiError(409, "conflict", conflict) from exc
    return row


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
    proposal = open_proposal(session=session, reference=reference)
    current = _save_revision(session=session, model=Decision, row=current, reference=reference,
                             conflict="Someone recorded a decision at the same moment; reload.",
                             decision=decision, reason_code=reason_code, note=note or None,
                             decided_by=staff.email, decided_at=utcnow())
    audit.record(session=session, actor=staff.email, action="decision.recorded", reference=reference,
                 details={"decision": decision, "reason_code": reason_code, "revised": revised,
                          "version": current.version, "proposed": proposal.decision if proposal else None})
    return current


def open_proposal(*, session: Session, reference: str) -> DecisionProposal | None:
    """The coordinators' proposal on an application, unless a decision was recorded since."""
    return session.scalar(select(DecisionProposal).where(DecisionProposal.reference == reference, proposal_open()))


def proposals_for(*, session: Session, references: Iterable[str]) -> dict[str, DecisionProposal]:
    """The open proposals among `references`, by reference: one query for a page of the list."""
    return {p.reference: p for p in session.scalars(select(DecisionProposal).where(
        DecisionProposal.reference.in_(list(references)), proposal_open()))}


def propose_decision(*, session: Session, staff: StaffIdentity, reference: str, decision: str, reason_code: str,
                     note: str | None = None) -> DecisionProposal:
    """Record or revise a coordinator's proposed decision on an application of their departments (not committed)."""
    if staff.role != "coordinator":
        raise ApiError(403, "forbidden", "Coordinators propose decisions; admins record them.")
    application = get_application(session=session, staff=staff, reference=reference)
    if application is None:
        raise ApiError(404, "not_found", "No such application.")
    if application.status != "under_review":
        raise ApiError(409, "not_under_review",
                       f"Only an application under review can be decided (this one is {application.status}).")
    decided = decision_for(session=session, reference=reference)
    if decided is not None and decided.released:
        raise ApiError(409, "already_released", "The decision was released and can no longer change.")
    proposal = session.scalar(select(DecisionProposal).where(DecisionProposal.reference == reference)
                              .with_for_update().execution_options(populate_existing=True))
    proposal = _save_revision(session=session, model=DecisionProposal, row=proposal, reference=reference,
                              conflict="Someone proposed a decision at the same moment; reload.",
                              decision=decision, reason_code=reason_code, note=note or None,
                              proposed_by=staff.email, proposed_at=utcnow())
    audit.record(session=session, actor=staff.email, action="decision.proposed", reference=reference,
                 details={"decision": decision, "reason_code": reason_code, "version": proposal.version})
    return proposal


def accept_proposal(*, session: Session, staff: StaffIdentity, reference: str,
                    version: int | None = None) -> Decision:
    """Record the open proposal as the decision (admins only, not committed), if still at `version` when given."""
    _admins_only(staff)
    if get_application(session=session, staff=staff, reference=reference) is None:
        raise ApiError(404, "not_found", "No such application.")
    proposal = open_proposal(session=session, reference=reference)
    if proposal is None:
        raise ApiError(409, "no_proposal", "There is no open proposal on this application.")
    if version is not None and version != proposal.version:
        raise ApiError(409, "changed", "The proposal was changed after you saw it; check it and accept again.")
    decision = record_decision(session=session, staff=staff, reference=reference, decision=proposal.decision,
                               reason_code=proposal.reason_code, note=proposal.note)
    audit.record(session=session, actor=staff.email, action="decision.proposal_accepted", reference=reference,
                 details={"decision": proposal.decision, "proposed_by": proposal.proposed_by,
                          "version": proposal.version})
    return decision


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


def record_decisions(*, session: Session, staff: StaffIdentity, references: list[str], decision: str,
                     reason_code: str, note: str | None = None) -> list[dict]:
    """Record one decision on many applications (admins only, not committed); a result per reference.

    A row that cannot be decided (not visible, not under review, released) is reported and changes nothing;
    the others are recorded all the same.
    """
    _admins_only(staff)
    results: list[dict] = []
    for reference in dict.fromkeys(references):
        try:
            with session.begin_nested():
                recorded = record_decision(session=session, staff=staff, reference=reference, decision=decision,
                                           reason_code=reason_code, note=note)
        except ApiError as exc:
            results.append({"reference": reference, "recorded": False, "code": exc.code, "message": exc.message})
        else:
            results.append({"reference": reference, "recorded": True, "version": recorded.version})
    log.info("decisions recorded in bulk", extra={"recorded": sum(r["recorded"] for r in results),
                                                  "refused": sum(not r["recorded"] for r in results)})
    return results


@dataclass(frozen=True)
class Releasable:
    """Recorded, unreleased decisions on applications still under review, as a confirmation shows them."""

    rows: list[tuple[Decision, Application]]

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def languages(self) -> dict[str, int]:
        """How many candidates will be emailed in each correspondence language."""
        return dict(Counter(application.correspondence_language or "en" for _, application in self.rows))

    @property
    def decisions(self) -> dict[str, int]:
        return dict(Counter(decision.decision for decision, _ in self.rows))


def releasable(*, session: Session, staff: StaffIdentity, **filters) -> Releasable:
    """The decisions a release of the list filtered by `filters` would send (admins only)."""
    _admins_only(staff)
    in_list = filtered(session=session, staff=staff, **filters).with_only_columns(Application.id)
    rows = session.execute(
        select(Decision, Application).join(Application, Application.reference == Decision.reference)
        .where(Decision.released_at.is_(None), Application.status == "under_review", Application.id.in_(in_list))
        .order_by(Application.reference)).all()
    return Releasable(rows=list(rows))
