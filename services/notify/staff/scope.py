"""Which deliveries a staff member may read: admins all, coordinators their departments', reviewers their assignments'."""
from __future__ import annotations

from sqlalchemy import Select, exists

from services.notify.deliveries.models import Delivery
from services.notify.staff.models import ApplicationDepartment, Assignment
from shared.auth import StaffIdentity


def scoped(query: Select, staff: StaffIdentity) -> Select:
    """Narrow a query of deliveries to what one staff member may read."""
    if staff.is_admin:
        return query
    if staff.role == "coordinator":
        return query.where(exists().where(ApplicationDepartment.reference == Delivery.reference,
                                          ApplicationDepartment.department.in_(staff.departments)))
    return query.where(exists().where(Assignment.reference == Delivery.reference,
                                      Assignment.reviewer_id == staff.user_id))
