"""Recording and releasing decisions, from the API and from the application page."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for

from services.review.accounts.auth import api_admin_required, page_admin_required
from services.review.applications.service import get_application
from services.review.db import db
from services.review.decisions import service
from services.review.decisions.forms import DecisionForm, ReleaseForm
from services.review.decisions.schemas import DecisionIn, DecisionOut, ReleaseIn
from shared.web import ApiError

bp = Blueprint("decisions", __name__)
api = Blueprint("decisions_api", __name__, url_prefix="/api/v1")


@api.post("/applications/<reference>/decision")
@api_admin_required
def record_api(reference: str):
    payload = DecisionIn().load(request.get_json(silent=True))
    decision = service.record_decision(session=db.session, staff=g.staff, reference=reference, **payload)
    db.session.commit()
    return jsonify(DecisionOut().dump(decision))


@api.post("/decisions/release")
@api_admin_required
def release_api():
    payload = ReleaseIn().load(request.get_json(silent=True))
    confirmed = {item["reference"]: item["version"] for item in reversed(payload["decisions"])}
    references = payload["references"] + [item["reference"] for item in payload["decisions"]]
    released, skipped = service.release_decisions(session=db.session, staff=g.staff, references=references,
                                                  versions=confirmed)
    db.session.commit()
    return jsonify({"released": released, "skipped": skipped})


@bp.post("/applications/<reference>/decision")
@page_admin_required
def record_page(reference: str):
    form = DecisionForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
        return redirect(url_for("applications.detail_page", reference=reference))
    try:
        decision = service.record_decision(session=db.session, staff=g.staff, reference=reference,
                                           decision=form.decision.data, reason_code=form.reason_code.data or None,
                                           note=form.note.data or None)
    except ApiError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404, exc.message)
        flash(exc.message, "error")
        return redirect(url_for("applications.detail_page", reference=reference))
    db.session.commit()
    flash(f"Decision recorded: {decision.decision}. It is not sent to the candidate until released.", "success")
    return redirect(url_for("applications.detail_page", reference=reference))


@bp.route("/applications/<reference>/release", methods=["GET", "POST"])
@page_admin_required
def release_page(reference: str):
    application = get_application(session=db.session, staff=g.staff, reference=reference)
    decision = service.decision_for(session=db.session, reference=reference)
    if application is None:
        abort(404, "No such application.")
    form = ReleaseForm(version=decision.version if decision else None)
    if request.method == "POST":
        if not form.validate_on_submit():
            for errors in form.errors.values():
                for message in errors:
                    flash(message, "error")
            return redirect(url_for("decisions.release_page", reference=reference))
        released, skipped = service.release_decisions(session=db.session, staff=g.staff, references=[reference],
                                                      versions={reference: form.version.data})
        db.session.commit()
        if released:
            flash(f"Decision released: {decision.decision}. The candidate will be told.", "success")
        elif skipped[0]["reason"] == "changed":
            flash(f"Nothing released: the decision was changed after you confirmed it (it is now "
                  f"{decision.decision}). Check it and confirm again.", "error")
        else:
            flash(f"Nothing released ({skipped[0]['reason'].replace('_', ' ')}).", "error")
        return redirect(url_for("applications.detail_page", reference=reference))
    return render_template("decisions/confirm_release.html", application=application, decision=decision,
                           form=form)
