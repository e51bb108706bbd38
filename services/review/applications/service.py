"""Finding applications, always within what the asking staff member may see."""
from __future__ import annotations

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from services.review.applications.models import Application, ApplicationDepartment
from shared.auth import StaffIdentity

PER_PAGE = 50


def _in_departments(departments) -> object:
    return exists().where(ApplicationDepartment.reference == Application.reference,
                          ApplicationDepartment.department.in_(list(departments)))


def visible(staff: StaffIdentity) -> Select:
    """Applications `staff` may see: all for an admin, their departments' for a reviewer."""
    query = select(Application)
    if not staff.is_admin:
        query = query.where(_in_departments(staff.departments or ("",)))
    return query


def list_applications(*, session: Session, staff: StaffIdentity, status: str | None = None,
                      department: str | None = None, q: str | None = None, page: int = 1,
                      per_page: int = PER_PAGE) -> tuple[list[Application], int]:
    """One page of visible applications, newest first, and how many match in all."""
    query = visible(staff)
    if status:
        query = query.where(Application.status == status)
    if department:
        query = query.where(_in_departments([department]))
    if q:
        pattern = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Application.reference.ilike(pattern, escape="\\"),
                                Application.name.ilike(pattern, escape="\\")))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(
        query.order_by(Application.submitted_at.desc().nulls_last(), Application.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return list(items), total


def get_application(*, session: Session, staff: StaffIdentity, reference: str) -> Application | None:
    """The application if it exists and `staff` may see it; None otherwise (the same either way)."""
    return session.scalar(visible(staff).where(Application.reference == reference))
