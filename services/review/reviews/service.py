"""Assigning reviewers, recording reviews, keeping the application's score, and the blind round."""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.review.accounts.models import MAX_USER_ID, User
from services.review.applications.models import Application
from services.review.applications.service import get_application
from services.review.audit import service as audit
from services.review.db import OUTBOX
from services.review.decisions.models import Decision
from services.review.reviews.models import DEFAULT_REVIEWERS_PER_APPLICATION, Assignment, Review, ReviewSettings
from services.review.reviews.rubric import score_errors, weighted_aggregate
from shared.auth import StaffIdentity
from shared.bus import publish_event
from shared.db import utcnow
from shared.events import make_event
from shared.web import ApiError

log = logging.getLogger(__name__)

# what a reviewer does not see of an application while the blind round is on
BLIND_FIELDS = ("name", "given_name", "family_name", "nationality", "nationality_label", "date_of_birth", "email")


# --- settings and the blind round ---------------------------------------------------------------

def get_settings(*, session: Session) -> ReviewSettings:
    """The call's review settings, created with the defaults on first use (not committed)."""
    settings = session.get(ReviewSettings, 1)
    if settings is not None:
        return settings
    # two first uses at once meet on the primary key instead of one failing
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(ReviewSettings).values(id=1, updated_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["id"]))
    return session.get_one(ReviewSettings, 1)


def update_settings(*, session: Session, staff: StaffIdentity, reviewers_per_application: int | None = None,
                    blind_round: bool | None = None) -> ReviewSettings:
    """Change the review settings (admins only; not committed)."""
    if not staff.is_admin:
        raise ApiError(403, "forbidden", "Only an admin changes the review settings.")
    settings = get_settings(session=session)
    changes = {}
    if reviewers_per_application is not None and reviewers_per_application != settings.reviewers_per_application:
        settings.reviewers_per_application = changes["reviewers_per_application"] = reviewers_per_application
    if blind_round is not None and blind_round != settings.blind_round:
        settings.blind_round = changes["blind_round"] = blind_round
    if changes:
        settings.updated_by = staff.email
        audit.record(session=session, actor=staff.email, action="review_settings.changed", details=changes)
    return settings


def blind_for(*, session: Session, staff: StaffIdentity) -> bool:
    """Whether `staff` sees applications blind: a reviewer while the blind round is on."""
    return staff.role == "reviewer" and get_settings(session=session).blind_round


def redact(data: dict) -> dict:
    """A copy of an application's dict without the fields the blind round hides."""
    return {key: (None if key in BLIND_FIELDS else value) for key, value in data.items()}


def hide_scores_until_reviewed(*, session: Session, staff: StaffIdentity, items: list[dict]) -> list[dict]:
    """Application dicts without score and spread where `staff` is a reviewer who has not scored yet:
    the aggregate would tell them what the others think."""
    if staff.role != "reviewer" or not items:
        return items
    reviewed = set(session.scalars(select(Review.reference).where(
        Review.reviewer_id == staff.user_id, Review.reference.in_([i["reference"] for i in items]))))
    return [i if i["reference"] in reviewed else {**i, "score": None, "score_spread": None} for i in items]


# --- assignment ---------------------------------------------------------------------------------

def _scored():
    """A clause for queries on Assignment: its reviewer has reviewed its application."""
    return exists().where(Review.reference == Assignment.reference, Review.reviewer_id == Assignment.reviewer_id)


def open_loads(*, session: Session, reviewer_ids: Iterable[int]) -> dict[int, int]:
    """Per reviewer, how many applications under review they are assigned and have not scored yet."""
    ids = list(reviewer_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Assignment.reviewer_id, func.count())
        .join(Application, Application.reference == Assignment.reference)
        .where(Assignment.reviewer_id.in_(ids), Application.status == "under_review", ~_scored())
        .group_by(Assignment.reviewer_id)).all()
    loads = dict.fromkeys(ids, 0)
    loads.update({reviewer_id: count for reviewer_id, count in rows})
    return loads


def pick_reviewers(*, departments: list[str], reviewers: list[User], loads: dict[int, int],
                   exclude: set[int], count: int) -> list[tuple[User, str]]:
    """Up to `count` (reviewer, department) pairs: the first preference's least-loaded reviewers first,
    then the next preference's, never anyone in `exclude` and never one person twice."""
    chosen: list[tuple[User, str]] = []
    taken = set(exclude)
    for department in departments:
        candidates = sorted((r for r in reviewers if department in (r.departments or []) and r.id not in taken),
                            key=lambda r: (loads.get(r.id, 0), r.id))
        for reviewer in candidates[:count - len(chosen)]:
            chosen.append((reviewer, department))
            taken.add(reviewer.id)
        if len(chosen) >= count:
            break
    return chosen


def _active_reviewers(session: Session) -> list[User]:
    # few enough to filter departments (a JSON list) in Python on every backend. Share-locked until the
    # assigning transaction ends: an admin's change to one of them (deactivation, departments) waits for it,
    # then finds the new assignments and hands them over; a change made first is what this query sees.
    return list(session.scalars(select(User).where(User.role == "reviewer", User.active.is_(True))
                                .with_for_update(read=True)))


def _assign(session: Session, application: Application, reviewer: User, department: str,
            assigned_by: str | None, correlation_id: str | None) -> Assignment:
    assignment = Assignment(reference=application.reference, reviewer_id=reviewer.id, department=department,
                            assigned_at=utcnow(), assigned_by=assigned_by)
    session.add(assignment)
    publish_event(session=session, outbox=OUTBOX, event=make_event(
        "review.assigned",
        {"reference": application.reference, "assigned_at": assignment.assigned_at,
         "reviewer": {"id": reviewer.id, "email": reviewer.email, "language": reviewer.language or "en"}},
        producer="review", correlation_id=correlation_id))
    return assignment


def _unassign(session: Session, assignment: Assignment, reason: str) -> None:
    """Take back an unscored assignment; notify drops it from the reviewer's scope and next digest."""
    session.delete(assignment)
    publish_event(session=session, outbox=OUTBOX, event=make_event("review.unassigned", {
        "reference": assignment.reference, "reviewer_id": assignment.reviewer_id, "unassigned_at": utcnow(),
        "reason": reason}, producer="review"))


def assign_reviewers(*, session: Session, application: Application,
                     correlation_id: str | None = None) -> list[Assignment]:
    """Bring an application under review up to the configured number of reviewers (not committed).

    Safe to run again: it only fills places still open, so a redelivered event assigns nobody new.
    """
    if application.status != "under_review":
        return []
    wanted = get_settings(session=session).reviewers_per_application
    current = set(session.scalars(select(Assignment.reviewer_id)
                                  .where(Assignment.reference == application.reference)))
    if len(current) >= wanted:
        return []
    reviewers = _active_reviewers(session)
    loads = open_loads(session=session, reviewer_ids=[r.id for r in reviewers])
    picked = pick_reviewers(departments=application.department_codes, reviewers=reviewers, loads=loads,
                            exclude=current, count=wanted - len(current))
    assignments = [_assign(session, application, reviewer, department, None, correlation_id)
                   for reviewer, department in picked]
    if assignments:
        session.flush()
    application.reviews_assigned = len(current) + len(assignments)
    if len(current) + len(assignments) < wanted:
        log.warning("too few reviewers to assign", extra={"reference": application.reference,
                                                          "assigned": len(current) + len(assignments)})
    return assignments


def _assignable_departments(staff: StaffIdentity, application: Application) -> list[str]:
    codes = application.department_codes
    return codes if staff.is_admin else [c for c in codes if c in staff.departments]


def _may_assign(staff: StaffIdentity, application: Application) -> None:
    if staff.role == "reviewer" or not _assignable_departments(staff, application):
        raise ApiError(403, "forbidden", "Only a coordinator of the application's departments or an admin "
                                         "assigns reviewers.")


def _visible_or_404(session: Session, staff: StaffIdentity, reference: str) -> Application:
    application = get_application(session=session, staff=staff, reference=reference)
    if application is None:
        raise ApiError(404, "not_found", "No such application.")
    return application


def assignments_of(*, session: Session, reference: str) -> list[tuple[Assignment, User, bool]]:
    """The application's assignments, with each reviewer and whether they have scored it."""
    rows = session.execute(select(Assignment, User, _scored().label("scored"))
                           .join(User, User.id == Assignment.reviewer_id)
                           .where(Assignment.reference == reference).order_by(Assignment.assigned_at, Assignment.id))
    return [(a, u, s) for a, u, s in rows]


def list_assignments(*, session: Session, staff: StaffIdentity,
                     reference: str) -> list[tuple[Assignment, User, bool]]:
    """The assignments of an application, for its coordinators and admins."""
    application = _visible_or_404(session, staff, reference)
    _may_assign(staff, application)
    return assignments_of(session=session, reference=reference)


def candidate_reviewers(*, session: Session, staff: StaffIdentity, application: Application) -> list[User]:
    """Active reviewers `staff` may assign to the application, by department preference then email."""
    departments = _assignable_departments(staff, application)
    reviewers = [r for r in _active_reviewers(session) if set(r.departments or []) & set(departments)]
    return sorted(reviewers, key=lambda r: r.email)


def reassign(*, session: Session, staff: StaffIdentity, reference: str, reviewer_id: int,
             replaces: int | None = None) -> Assignment:
    """Assign one more reviewer, or one in place of another who has not scored yet (not committed)."""
    application = _visible_or_404(session, staff, reference)
    _may_assign(staff, application)
    if application.status != "under_review" or _released(session, reference):
        raise ApiError(409, "not_under_review", "Reviewers are assigned only while the application is under review.")
    current = {a.reviewer_id: a for a in session.scalars(
        select(Assignment).where(Assignment.reference == reference).with_for_update())}
    reviewer = session.get(User, reviewer_id) if reviewer_id <= MAX_USER_ID else None
    departments = _assignable_departments(staff, application)
    if reviewer is None or not reviewer.active or reviewer.role != "reviewer":
        raise ApiError(422, "invalid_fields", "Choose an active reviewer.",
                       {"reviewer_id": ["Not an active reviewer."]})
    department = next((d for d in departments if d in (reviewer.departments or [])), None)
    if department is None:
        raise ApiError(422, "invalid_fields", "This reviewer does not review for the application's departments.",
                       {"reviewer_id": ["Not a reviewer of this application's departments."]})
    if reviewer_id in current:
        raise ApiError(409, "already_assigned", "This reviewer is already assigned to the application.")
    if replaces is not None:
        old = current.get(replaces)
        if old is None:
            raise ApiError(422, "invalid_fields", "The reviewer to replace is not assigned.",
                           {"replaces": ["Not assigned to this application."]})
        if session.scalar(select(Review.id).where(Review.reference == reference, Review.reviewer_id == replaces)):
            raise ApiError(409, "already_reviewed", "That reviewer has already scored the application.")
        _unassign(session, old, "replaced")
        session.flush()
    assignment = _assign(session, application, reviewer, department, staff.email, None)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise ApiError(409, "conflict", "Someone changed the assignments at the same moment; reload.") from exc
    application.reviews_assigned = session.scalar(
        select(func.count()).select_from(Assignment).where(Assignment.reference == reference)) or 0
    audit.record(session=session, actor=staff.email, action="assignment.changed", reference=reference,
                 details={"assigned": reviewer_id, "replaced": replaces})
    return assignment


@dataclass(frozen=True)
class Handover:
    """What became of the open assignments a reviewer could no longer keep."""
    moved: int = 0
    unassigned: int = 0


def _handover_reason(reviewer: User) -> str:
    if not reviewer.active:
        return "reviewer_deactivated"
    return "department_removed" if reviewer.role == "reviewer" else "no_longer_reviewer"


def _orphaned(session: Session, reviewer: User) -> list[tuple[Assignment, Application]]:
    """The reviewer's unscored assignments, under review and not released, on behalf of a department they
    may no longer review for (every one when they are not an active reviewer any more), oldest first."""
    query = (select(Assignment, Application).join(Application, Application.reference == Assignment.reference)
             .where(Assignment.reviewer_id == reviewer.id, Application.status == "under_review", ~_scored(),
                    ~exists().where(Decision.reference == Assignment.reference, Decision.released_at.is_not(None))))
    if reviewer.active and reviewer.role == "reviewer":
        query = query.where(Assignment.department.not_in(reviewer.departments or []))
    rows = session.execute(query.order_by(Assignment.assigned_at, Assignment.id).with_for_update(of=Assignment))
    return [(a, application) for a, application in rows]


def hand_over_assignments(*, session: Session, reviewer: User, actor: str) -> Handover:
    """Move the open assignments `reviewer` may no longer keep to other reviewers (not committed).

    Called after their status, role or departments changed, so no application waits for a review that will
    not come. Each goes to the least-loaded active reviewer of the same department not already on the
    application; with none left it is removed, and the application shows a reviewer missing. Reviews
    already written stay, with their assignments: they count.
    """
    orphans = _orphaned(session, reviewer)
    if not orphans:
        return Handover()
    reviewers = [r for r in _active_reviewers(session) if r.id != reviewer.id]
    loads = open_loads(session=session, reviewer_ids=[r.id for r in reviewers])
    assignees: dict[str, set[int]] = defaultdict(set)
    for reference, reviewer_id in session.execute(select(Assignment.reference, Assignment.reviewer_id).where(
            Assignment.reference.in_({a.reference for a, _ in orphans}))):
        assignees[reference].add(reviewer_id)
    reason, moved = _handover_reason(reviewer), 0
    for old, application in orphans:
        _unassign(session, old, reason)
        others = assignees[old.reference] - {reviewer.id}
        picked = pick_reviewers(departments=[old.department], reviewers=reviewers, loads=loads, exclude=others,
                                count=1)
        successor = picked[0][0] if picked else None
        if successor is not None:
            _assign(session, application, successor, old.department, actor, None)
            loads[successor.id] += 1
            others.add(successor.id)
            moved += 1
        application.reviews_assigned = len(others)
        audit.record(session=session, actor=actor, action="assignment.changed", reference=old.reference,
                     details={"assigned": successor.id if successor else None, "replaced": reviewer.id,
                              "reason": reason})
    session.flush()
    handover = Handover(moved=moved, unassigned=len(orphans) - moved)
    log.info("open assignments handed over", extra={"reviewer_id": reviewer.id, "reason": reason,
                                                    "moved": handover.moved, "unassigned": handover.unassigned})
    return handover


def hand_over_stranded(*, session: Session, actor: str) -> Handover:
    """Hand over every open assignment held by someone who may no longer keep it (not committed).

    Changes to an account hand over at once (`hand_over_assignments`); this finds what a change made before
    that existed left behind, run by `python -m services.review migrate`.
    """
    holders = session.scalars(select(User).where(User.id.in_(select(Assignment.reviewer_id).distinct()))
                              .order_by(User.id)).all()
    handovers = [hand_over_assignments(session=session, reviewer=user, actor=actor) for user in holders]
    return Handover(moved=sum(h.moved for h in handovers), unassigned=sum(h.unassigned for h in handovers))


def reviewers_wanted(*, session: Session) -> int:
    """Reviewers per application, read without creating the settings row (for pages that only look)."""
    settings = session.get(ReviewSettings, 1)
    return settings.reviewers_per_application if settings else DEFAULT_REVIEWERS_PER_APPLICATION


# --- reviews ------------------------------------------------------------------------------------

def _released(session: Session, reference: str) -> bool:
    return session.scalar(select(Decision.released_at).where(Decision.reference == reference)) is not None


def recompute_score(*, session: Session, application: Application) -> None:
    """Keep the application's score (mean of reviewers' aggregates), spread and counts (not committed)."""
    aggregates = list(session.scalars(select(Review.aggregate).where(Review.reference == application.reference)))
    application.score = round(fmean(aggregates), 3) if aggregates else None
    application.score_spread = round(max(aggregates) - min(aggregates), 3) if aggregates else None
    application.reviews_done = len(aggregates)
    application.reviews_assigned = session.scalar(
        select(func.count()).select_from(Assignment).where(Assignment.reference == application.reference)) or 0


def save_review(*, session: Session, staff: StaffIdentity, reference: str, scores: dict, comment: str,
                recommendation: str, rubric: list[dict]) -> tuple[Review, bool]:
    """Record or revise the asking reviewer's review (not committed); returns it and whether it is new."""
    application = _visible_or_404(session, staff, reference)
    department = session.scalar(select(Assignment.department).where(Assignment.reference == reference,
                                                                     Assignment.reviewer_id == staff.user_id))
    if department is None:
        raise ApiError(403, "not_assigned", "Only a reviewer assigned to this application scores it.")
    # a reviewer who left the department keeps the review they wrote (it counts) but no longer changes it
    if staff.role == "reviewer" and department not in staff.departments:
        raise ApiError(403, "not_in_department",
                       "You no longer review for the department this application was assigned to you for.")
    if _released(session, reference):
        raise ApiError(409, "already_released", "The decision was released; reviews can no longer change.")
    if application.status != "under_review":
        raise ApiError(409, "not_under_review",
                       f"Only an application under review is scored (this one is {application.status}).")
    errors = score_errors(scores, rubric)
    if errors:
        raise ApiError(422, "invalid_fields", "Some scores are missing or out of range.", {"scores": errors})
    review = session.scalar(select(Review).where(Review.reference == reference, Review.reviewer_id == staff.user_id)
                            .with_for_update())
    created = review is None
    if review is None:
        review = Review(reference=reference, reviewer_id=staff.user_id)
    review.scores = {c["code"]: scores[c["code"]] for c in rubric}
    review.aggregate = weighted_aggregate(scores, rubric)
    review.comment, review.recommendation = comment, recommendation
    try:
        with session.begin_nested():
            session.add(review)
    except IntegrityError as exc:
        raise ApiError(409, "conflict", "Your review was saved from elsewhere at the same moment; reload.") from exc
    recompute_score(session=session, application=application)
    audit.record(session=session, actor=staff.email, action="review.saved", reference=reference,
                 details={"created": created, "aggregate": review.aggregate, "recommendation": recommendation})
    return review, created


def reviews_for(*, session: Session, staff: StaffIdentity,
                reference: str) -> tuple[Application, list[tuple[Review, str]], bool]:
    """The application, the reviews `staff` may read (with each reviewer's email) and whether others'
    are withheld: a reviewer sees only their own until it is in, then everyone's; coordinators and
    admins see all reviews of the applications they see."""
    application = _visible_or_404(session, staff, reference)
    rows = [(r, email) for r, email in session.execute(
        select(Review, User.email).join(User, User.id == Review.reviewer_id)
        .where(Review.reference == reference).order_by(Review.created_at, Review.id))]
    if staff.role == "reviewer" and not any(r.reviewer_id == staff.user_id for r, _ in rows):
        return application, [], True
    return application, rows, False


def queue(*, session: Session, staff: StaffIdentity) -> list[tuple[Application, Assignment]]:
    """What `staff` has to score: assigned, under review, not yet scored, oldest assignment first."""
    rows = session.execute(
        select(Application, Assignment).join(Assignment, Assignment.reference == Application.reference)
        .where(Assignment.reviewer_id == staff.user_id, Application.status == "under_review", ~_scored())
        .order_by(Assignment.assigned_at, Application.submitted_at, Application.id))
    return [(a, s) for a, s in rows]
