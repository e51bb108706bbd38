"""The applications list and detail, as pages and as JSON, and the dossier."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, g, jsonify, render_template, request
from marshmallow import ValidationError

from services.review.applications import service
from services.review.applications.models import STATUSES
from services.review.applications.schemas import ApplicationOut, ApplicationSummaryOut, ListArgs, clean_args
from services.review.accounts.auth import api_staff_required, page_staff_required, staff_required
from services.review.audit import service as audit
from services.review.db import db
from services.review.decisions.forms import DecisionForm, ReleaseForm
from services.review.decisions.schemas import DecisionOut
from services.review.decisions.service import decision_for
from services.review.departments import DEPARTMENTS
from shared.documents import DocumentStore

log = logging.getLogger(__name__)
bp = Blueprint("applications", __name__)
api = Blueprint("applications_api", __name__, url_prefix="/api/v1")


def _visible_or_404(reference: str):
    application = service.get_application(session=db.session, staff=g.staff, reference=reference)
    if application is None:
        abort(404, "No such application.")
    return application


@bp.get("/")
@bp.get("/applications")
@page_staff_required
def list_page():
    try:
        args = ListArgs().load(clean_args(request.args))
    except ValidationError:
        abort(400, "Invalid filter.")
    items, total = service.list_applications(session=db.session, staff=g.staff, **args)
    pages = max(1, -(-total // service.PER_PAGE))
    return render_template("applications/list.html", items=items, total=total, args=args, pages=pages,
                           statuses=STATUSES, departments=DEPARTMENTS)


@bp.get("/applications/<reference>")
@page_staff_required
def detail_page(reference: str):
    application = _visible_or_404(reference)
    decision = decision_for(session=db.session, reference=reference)
    form = DecisionForm(obj=decision) if decision else DecisionForm()
    return render_template("applications/detail.html", application=application, decision=decision,
                           form=form, release_form=ReleaseForm(), departments=DEPARTMENTS)


@bp.get("/applications/<reference>/dossier.pdf")
@staff_required()
def dossier(reference: str):
    application = _visible_or_404(reference)
    store = DocumentStore(current_app.config["SETTINGS"].documents_dir)
    if not application.dossier_key or not store.exists(application.dossier_key):
        abort(404, "The dossier is not rendered yet.")
    body = store.read(application.dossier_key)
    audit.record(session=db.session, actor=g.staff.email, action="dossier.viewed", reference=reference,
                 details={"sha256": application.dossier_sha256})
    db.session.commit()
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{reference}-dossier.pdf"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@api.get("/applications")
@api_staff_required
def list_api():
    args = ListArgs().load(clean_args(request.args))
    items, total = service.list_applications(session=db.session, staff=g.staff, **args)
    return jsonify({"items": ApplicationSummaryOut(many=True).dump(items), "page": args["page"],
                    "per_page": service.PER_PAGE, "total": total})


@api.get("/applications/<reference>")
@api_staff_required
def detail_api(reference: str):
    application = _visible_or_404(reference)
    decision = decision_for(session=db.session, reference=reference)
    body = ApplicationOut().dump(application)
    body["decision"] = DecisionOut().dump(decision) if decision else None
    return jsonify(body)
