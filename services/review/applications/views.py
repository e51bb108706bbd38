"""The applications list and detail, as pages and as JSON, and the dossier."""
from __future__ import annotations

import io
import logging

from flask import Blueprint, abort, current_app, g, jsonify, render_template, request, send_file
from marshmallow import ValidationError

from services.review.applications import service
from services.review.applications.models import STATUSES
from services.review.applications.schemas import ApplicationOut, ApplicationSummaryOut, ListArgs, clean_args, url_args
from services.review.applications.service import list_reviewers
from services.review.accounts.auth import api_staff_required, page_staff_required, staff_required
from services.review.audit import service as audit
from services.review.db import db
from services.review.decisions.forms import (AcceptProposalForm, BulkDecisionForm, DecisionForm, ProposalForm,
                                             ReleaseForm)
from services.review.decisions.schemas import DecisionOut, ProposalOut
from services.review.decisions.service import decision_for, open_proposal, proposals_for
from services.review.departments import DEPARTMENTS
from services.review.reviews.service import blind_for, hide_scores_until_reviewed, redact, reviewers_wanted
from services.review.reviews.views import detail_context as review_context
from shared.documents import DocumentStore, DocumentTampered

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


def _audit_view(reference: str) -> None:
    """A staff member saw an applicant's personal data: on the record before the page is sent."""
    audit.record(session=db.session, actor=g.staff.email, action="application.viewed", reference=reference,
                 details={"via": "api" if request.path.startswith("/api/") else "page"})
    db.session.commit()


def _list_args() -> dict:
    """The list's filters from the URL; a bad one is a 422 for the API and a 400 page for the browser."""
    try:
        return ListArgs().load(clean_args(request.args))
    except ValidationError as exc:
        if request.path.startswith("/api/"):
            raise
        abort(400, "Invalid filter: " + ", ".join(sorted(exc.messages)))


@bp.get("/")
@bp.get("/applications")
@page_staff_required
def list_page():
    args = _list_args()
    result = service.list_applications(session=db.session, staff=g.staff, **args)
    return render_template("applications/list.html", result=result, args=args, statuses=STATUSES,
                           departments=DEPARTMENTS, reviewers=list_reviewers(session=db.session, staff=g.staff),
                           blind=blind_for(session=db.session, staff=g.staff), url_args=url_args,
                           flagged_duplicate=service.flagged_duplicate,
                           proposals=proposals_for(session=db.session, references=[a.reference for a in result.items])
                           if g.staff.role != "reviewer" else {},
                           # coordinators and the office see where a reviewer is missing; a reviewer has no use for it
                           reviewers_wanted=reviewers_wanted(session=db.session) if g.staff.role != "reviewer" else 0,
                           bulk_form=BulkDecisionForm() if g.staff.is_admin else None)


@bp.get("/applications/<reference>")
@page_staff_required
def detail_page(reference: str):
    application = _visible_or_404(reference)
    _audit_view(reference)
    decision = decision_for(session=db.session, reference=reference)
    form = DecisionForm(obj=decision) if decision else DecisionForm()
    # reviewers score; the proposal is between the coordinators and the programme office
    proposal = open_proposal(session=db.session, reference=reference) if g.staff.role != "reviewer" else None
    return render_template("applications/detail.html", application=application, decision=decision,
                           form=form, release_form=ReleaseForm(), departments=DEPARTMENTS, proposal=proposal,
                           proposal_form=(ProposalForm(prefix="proposal", obj=proposal) if g.staff.role == "coordinator" else None),
                           accept_form=AcceptProposalForm(version=proposal.version) if proposal else None,
                           **review_context(application))


@bp.get("/applications/<reference>/dossier.pdf")
@staff_required()
def dossier(reference: str):
    application = _visible_or_404(reference)
    store = DocumentStore.of(current_app.config["SETTINGS"])
    # under the blind round a reviewer gets the blind variant or nothing, never the full dossier
    blind = blind_for(session=db.session, staff=g.staff)
    key, sha256 = ((application.blind_dossier_key, application.blind_dossier_sha256) if blind
                   else (application.dossier_key, application.dossier_sha256))
    if not key or not store.exists(key):
        abort(404, "The blind dossier is not rendered yet." if blind else "The dossier is not rendered yet.")
    download = request.args.get("download") == "1"
    try:
        data = store.read(key)
    except DocumentTampered:  # altered, or a file without encryption put in its place (shared/documents.py)
        log.error("stored dossier refused", extra={"reference": reference, "blind": blind})
        abort(409, "The stored dossier failed its integrity check and is not served; the programme office "
                   "must render it again.")
    audit.record(session=db.session, actor=g.staff.email, action="dossier.downloaded" if download else
                 "dossier.viewed", reference=reference, details={"sha256": sha256, "blind": blind})
    db.session.commit()
    # decrypted in memory (shared/documents.py); no Range support, so one request is one audited view
    response = send_file(io.BytesIO(data), mimetype="application/pdf",
                         as_attachment=download,
                         download_name=f"{reference}-dossier.pdf", conditional=False, etag=False, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # opened in the browser, the PDF is its own sandboxed document: no scripts, no forms, an opaque origin
    response.headers["Content-Security-Policy"] = DOSSIER_CSP
    return response


@api.get("/applications")
@api_staff_required
def list_api():
    args = _list_args()
    result = service.list_applications(session=db.session, staff=g.staff, **args)
    items = [{**item, "score": None, "score_spread": None} if item["reference"] in result.hidden_scores else item
             for item in ApplicationSummaryOut(many=True).dump(result.items)]
    if blind_for(session=db.session, staff=g.staff):
        items = [redact(item) for item in items]
    if g.staff.role != "reviewer":
        proposals = proposals_for(session=db.session, references=[item["reference"] for item in items])
        items = [{**item, "proposed": proposals[item["reference"]].decision if item["reference"] in proposals
                  else None} for item in items]
    return jsonify({"items": items, "page": result.page, "per_page": result.per_page, "total": result.total,
                    "pages": result.pages, "counts": {k: v for k, v in result.counts.items() if k}})


@api.get("/applications/<reference>")
@api_staff_required
def detail_api(reference: str):
    application = _visible_or_404(reference)
    _audit_view(reference)
    decision = decision_for(session=db.session, reference=reference)
    body = ApplicationOut().dump(application)
    if blind_for(session=db.session, staff=g.staff):
        body = redact(body)
        # a possible duplicate's message names the other applications, which a blind reviewer could look up
        body["problems"] = [p for p in body.get("problems") or [] if p.get("code") != service.DUPLICATE_PROBLEM]
    (body,) = hide_scores_until_reviewed(session=db.session, staff=g.staff, items=[body])
    body["decision"] = DecisionOut().dump(decision) if decision else None
    proposal = open_proposal(session=db.session, reference=reference) if g.staff.role != "reviewer" else None
    body["proposal"] = ProposalOut().dump(proposal) if proposal else None
    return jsonify(body)
