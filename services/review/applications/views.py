"""The applications list and detail, as pages and as JSON, and the dossier."""
from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, g, jsonify, render_template, request, send_file
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
# what Chromium's PDF viewer still renders under (checked with the real browser): `sandbox` in the header,
# where a `sandbox` attribute on the frame would block the viewer altogether
DOSSIER_CSP = "sandbox; default-src 'none'; frame-ancestors 'self'"
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
    download = request.args.get("download") == "1"
    audit.record(session=db.session, actor=g.staff.email, action="dossier.downloaded" if download else
                 "dossier.viewed", reference=reference, details={"sha256": application.dossier_sha256})
    db.session.commit()
    # streamed from disk, never read whole; no Range support, so one request is one audited view
    response = send_file(store.path(application.dossier_key), mimetype="application/pdf", as_attachment=download,
                         download_name=f"{reference}-dossier.pdf", conditional=False, etag=False, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # opened in the browser, the PDF is its own sandboxed document: no scripts, no forms, an opaque origin
    response.headers["Content-Security-Policy"] = DOSSIER_CSP
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
