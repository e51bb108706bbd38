"""The department dashboard and the CSV export of any filtered list (page session or API token)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response, abort, g, render_template, request, stream_with_context
from marshmallow import ValidationError

from services.review.accounts.auth import api_staff_required, page_staff_required
from services.review.applications.schemas import ListArgs, clean_args
from services.review.audit import service as audit
from services.review.db import db
from services.review.departments import DEPARTMENT_CODES
from services.review.reports import service
from services.review.reviews.service import blind_for

bp = Blueprint("reports", __name__)
api = Blueprint("reports_api", __name__, url_prefix="/api/v1")
EXPORT_FILTERS = ("status", "department", "eligible", "duplicate", "reviewer", "score_min", "score_max", "q", "sort")


@bp.get("/dashboard")
@page_staff_required
def dashboard_page():
    if g.staff.role == "reviewer":
        abort(403, "The dashboard is for coordinators and the programme office.")
    departments = service.departments_for(g.staff, DEPARTMENT_CODES)
    if not departments:
        abort(403, "You are not scoped to any department.")
    department = request.args.get("department") or departments[0]
    if department not in departments:
        abort(404, "No such department, or not one of yours.")
    figures = service.dashboard(session=db.session, staff=g.staff, department=department)
    return render_template("reports/dashboard.html", figures=figures, departments=departments)


def _export() -> Response:
    """The filtered list as a streamed CSV: audited, then read and sent in batches."""
    filters = ListArgs(only=EXPORT_FILTERS).load(clean_args(request.args))
    blind = blind_for(session=db.session, staff=g.staff)
    audit.record(session=db.session, actor=g.staff.email, action="applications.exported",
                 details={"filters": {k: v for k, v in filters.items() if v is not None}})
    db.session.commit()
    lines = service.csv_lines(session=db.session, staff=g.staff, blind=blind, **filters)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    return Response(stream_with_context(lines), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="applications-{stamp}.csv"',
        "Cache-Control": "private, no-store"})


@bp.get("/applications.csv")
@page_staff_required
def export_page():
    try:
        return _export()
    except ValidationError as exc:
        abort(400, "Invalid filter: " + ", ".join(sorted(exc.messages)))


@api.get("/applications.csv")
@api_staff_required
def export_api():
    return _export()
