"""Finding applications, always within what the asking staff member may see."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Row, Select, SQLColumnExpression, and_, case, cast, exists, false, func, null, or_, select, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, joinedload, load_only

from services.review.accounts.models import MAX_USER_ID, User
from services.review.applications.models import Application, ApplicationDepartment
from services.review.decisions.models import DecisionProposal, proposal_open
from services.review.reviews.models import Assignment, Review
from shared.auth import StaffIdentity

PER_PAGE = 50
MAX_PER_PAGE = 200
# the problem intake's checks raise for a second application of the same person (same email, or name and birth date)
DUPLICATE_PROBLEM = "possible_duplicate"
# what the list, the API list and the CSV show: the rest (education, dossier details...) stays unloaded
LISTED = (Application.reference, Application.status, Application.submitted_at, Application.name,
          Application.nationality, Application.session, Application.eligible, Application.complete,
          Application.problems, Application.score, Application.score_spread, Application.reviews_done,
          Application.reviews_assigned, Application.dossier_key)
SORTS = ("-submitted", "submitted", "-score", "score")


def _score(staff: StaffIdentity) -> SQLColumnExpression[float | None]:
    """The score `staff` may filter, sort and see by: a reviewer only has it for the applications they have
    reviewed themselves, since the aggregate would tell them what the others think."""
    if staff.role != "reviewer":
        return Application.score
    reviewed = exists().where(Review.reference == Application.reference, Review.reviewer_id == staff.user_id)
    return case((reviewed, Application.score), else_=null())


def _order(sort: str, staff: StaffIdentity) -> tuple:
    """ORDER BY for `sort`: unscored and undated applications last either way; the descending orders of the
    office and coordinators have their own indexes (migration 0005)."""
    column = _score(staff) if sort.endswith("score") else Application.submitted_at
    if sort.startswith("-"):
        return column.desc().nulls_last(), Application.id.desc()
    return column.asc().nulls_last(), Application.id.asc()


def _in_departments(departments) -> ColumnElement[bool]:
    return exists().where(ApplicationDepartment.reference == Application.reference,
                          ApplicationDepartment.department.in_(list(departments)))


def _assigned_to(user_id: int) -> ColumnElement[bool]:
    if user_id > MAX_USER_ID:
        return false()  # no such user
    return exists().where(Assignment.reference == Application.reference, Assignment.reviewer_id == user_id)


def visible(staff: StaffIdentity) -> Select:
    """Applications `staff` may see: all for an admin, their departments' for a coordinator, their
    assignments for a reviewer."""
    query = select(Application)
    if staff.role == "reviewer":
        return query.where(_assigned_to(staff.user_id))
    if not staff.is_admin:
        query = query.where(_in_departments(staff.departments or ("",)))
    return query


def _has_problem(session: Session, code: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(Application.problems, JSONB).contains([{"code": code}])
    each = func.json_each(Application.problems).table_valued("value").alias("problem")
    return exists().select_from(each).where(func.json_extract(each.c.value, "$.code") == code)


def flagged_duplicate(application: Application | Row) -> bool:
    """Whether intake's checks flagged the application as a possible second one of the same person."""
    return any(problem.get("code") == DUPLICATE_PROBLEM for problem in application.problems or ())


def search_pattern(q: str) -> str:
    """`q` as a case-insensitive LIKE pattern that matches it anywhere, wildcards taken literally."""
    return "%" + q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True)
class ApplicationPage:
    items: list[Application]
    total: int
    # matching applications per status (None: status not yet known), every filter but the status applied
    counts: dict[str | None, int]
    page: int
    per_page: int
    # references on the page whose score the asking reviewer may not see yet
    hidden_scores: frozenset[str] = frozenset()

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def filtered(*, session: Session, staff: StaffIdentity, department: str | None = None,
             eligible: bool | None = None, duplicate: bool | None = None, reviewer: int | None = None,
             score_min: float | None = None, score_max: float | None = None, q: str | None = None,
             proposed: bool | None = None) -> Select:
    """Visible applications matching the filters (all but the status)."""
    query = visible(staff)
    conditions: list[ColumnElement[bool]] = []
    if department:
        conditions.append(_in_departments([department]))
    if eligible is not None:
        conditions.append(Application.eligible.is_(eligible))
    if duplicate is not None:
        has = _has_problem(session, DUPLICATE_PROBLEM)
        conditions.append(has if duplicate else ~has)
    if reviewer is not None:
        # a reviewer learns nothing of a colleague's assignments: only their own filter matches anything
        conditions.append(_assigned_to(reviewer) if staff.role != "reviewer" or reviewer == staff.user_id
                          else false())
    # proposals are between coordinators and the office: a reviewer's filter on them is ignored
    if proposed is not None and staff.role != "reviewer":
        has = exists().where(DecisionProposal.reference == Application.reference, proposal_open())
        conditions.append(has if proposed else ~has)
    if score_min is not None:
        conditions.append(_score(staff) >= score_min)
    if score_max is not None:
        conditions.append(_score(staff) <= score_max)
    if q and q.strip():
        # reviews builds on this module, hence the late import
        from services.review.reviews.service import blind_for
        pattern = search_pattern(q)
        # lower() on both sides matches the lower() trigram indexes of migration 0005; a blind reviewer finds
        # by reference only, or a search would tell them whose application it is
        searched = [Application.reference] if blind_for(session=session, staff=staff) else [Application.reference,
                                                                                              Application.name]
        conditions.append(or_(*(func.lower(column).like(pattern, escape="\\") for column in searched)))
    return query.where(and_(true(), *conditions))


def list_applications(*, session: Session, staff: StaffIdentity, status: str | None = None,
                      sort: str = "-submitted", page: int = 1, per_page: int = PER_PAGE,
                      **filters) -> ApplicationPage:
    """One page of visible applications matching the filters, the total and the counts per status."""
    query = filtered(session=session, staff=staff, **filters)
    by_status = query.with_only_columns(Application.status, func.count()).group_by(Application.status)
    counts = dict(session.execute(by_status).all())
    total = counts.get(status, 0) if status else sum(counts.values())
    if status:
        query = query.where(Application.status == status)
    # the page and its departments in one round trip
    items = list(session.scalars(query.options(load_only(*LISTED), joinedload(Application.departments))
                                 .order_by(*_order(sort, staff)).limit(per_page).offset((page - 1) * per_page))
                 .unique())
    hidden: frozenset[str] = frozenset()
    if staff.role == "reviewer" and items:
        references = {a.reference for a in items}
        hidden = frozenset(references - set(session.scalars(select(Review.reference).where(
            Review.reviewer_id == staff.user_id, Review.reference.in_(references)))))
    return ApplicationPage(items=items, total=total, counts=counts, page=page, per_page=per_page,
                           hidden_scores=hidden)


def export_rows(*, session: Session, staff: StaffIdentity, status: str | None = None, sort: str = "-submitted",
                batch: int = 1000, **filters) -> Iterator[tuple[Row, list[str]]]:
    """Every visible application matching the filters, in order, with its department codes: plain rows read
    through a server-side cursor, `batch` at a time, and the departments of them all in one query."""
    query = filtered(session=session, staff=staff, **filters)
    if status:
        query = query.where(Application.status == status)
    departments: dict[str, list[str]] = defaultdict(list)
    chosen = query.with_only_columns(Application.reference).scalar_subquery()
    for reference, department in session.execute(
            select(ApplicationDepartment.reference, ApplicationDepartment.department)
            .where(ApplicationDepartment.reference.in_(chosen))
            .order_by(ApplicationDepartment.reference, ApplicationDepartment.rank)):
        departments[reference].append(department)
    score = _score(staff)
    spread = Application.score_spread if score is Application.score else case(
        (score.is_not(None), Application.score_spread), else_=null())
    columns = [c for c in LISTED if c.key not in ("score", "score_spread")] + [score.label("score"),
                                                                               spread.label("score_spread")]
    rows = session.execute(query.with_only_columns(*columns).order_by(*_order(sort, staff))
                           .execution_options(yield_per=batch))
    for row in rows:
        yield row, departments[row.reference]


def list_reviewers(*, session: Session, staff: StaffIdentity) -> list[tuple[int, str]]:
    """Reviewers `staff` may filter the list by, as (id, email): a coordinator's departments' or all."""
    if staff.role == "reviewer":
        return [(staff.user_id, staff.email)]
    users = session.scalars(select(User).where(User.role == "reviewer", User.active.is_(True))
                            .order_by(User.email)).all()
    if not staff.is_admin:
        users = [u for u in users if set(u.departments or ()) & set(staff.departments)]
    return [(u.id, u.email) for u in users]


def get_application(*, session: Session, staff: StaffIdentity, reference: str) -> Application | None:
    """The application if it exists and `staff` may see it; None otherwise (the same either way)."""
    return session.scalar(visible(staff).where(Application.reference == reference))

