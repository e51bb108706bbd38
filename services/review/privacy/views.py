"""Admin erasure, export and statistics (pages and API), and the access log intake reads for an export."""
from __future__ import annotations

import hmac

from flask import (Blueprint, Response, abort, current_app, flash, g, jsonify, redirect, render_template, request,
                   url_for)
from flask_wtf import FlaskForm
from marshmallow import Schema, fields, validate
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from services.review.accounts.auth import api_admin_required, page_admin_required
from services.review.db import db
from services.review.privacy import usecases
from services.review.privacy.client import IntakePrivacy
from services.review.privacy.service import access_log
from shared.auth import bearer_token
from shared.web import ApiError

bp = Blueprint("privacy", __name__, template_folder="templates")
api = Blueprint("privacy_api", __name__, url_prefix="/api/v1")
internal = Blueprint("privacy_internal", __name__, url_prefix="/internal/v1")
REASON_MIN, REASON_MAX = 3, 500


class EraseArgs(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=REASON_MIN, max=REASON_MAX))


class EraseForm(FlaskForm):
    reason = StringField("Reason (kept in the audit log)", validators=[
        DataRequired(message="Give the reason for the erasure."), Length(min=REASON_MIN, max=REASON_MAX)])


def _intake() -> IntakePrivacy:
    return IntakePrivacy(current_app.config["SETTINGS"])


def _zip(data: bytes, reference: str) -> Response:
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{reference}-personal-data.zip"',
        "Cache-Control": "private, no-store"})


@api.post("/applications/<reference>/erase")
@api_admin_required
def erase_api(reference: str):
    args = EraseArgs().load(request.get_json(silent=True) or {})
    return usecases.erase(session=db.session, intake=_intake(), staff=g.staff, reference=reference,
                          reason=args["reason"])


@bp.post("/applications/<reference>/erase")
@page_admin_required
def erase_page(reference: str):
    form = EraseForm()
    if not form.validate_on_submit():
        for messages in form.errors.values():
            for message in messages:
                flash(message, "error")
        return redirect(url_for("applications.detail_page", reference=reference))
    try:
        usecases.erase(session=db.session, intake=_intake(), staff=g.staff, reference=reference,
                       reason=form.reason.data)
    except ApiError as exc:
        flash(exc.message, "error")
    else:
        flash("The applicant's personal data has been erased from every service.", "success")
    return redirect(url_for("applications.detail_page", reference=reference))


@api.get("/applications/<reference>/export")
@api_admin_required
def export_api(reference: str):
    return _zip(usecases.export(session=db.session, intake=_intake(), staff=g.staff, reference=reference), reference)


@bp.get("/applications/<reference>/export.zip")
@page_admin_required
def export_page(reference: str):
    try:
        data = usecases.export(session=db.session, intake=_intake(), staff=g.staff, reference=reference)
    except ApiError as exc:
        abort(exc.status, exc.message)  # the staff error page, not JSON, in the browser
    return _zip(data, reference)


@api.get("/statistics")
@api_admin_required
def statistics_api():
    return jsonify(_intake().statistics(request.args.get("call")))


@bp.get("/statistics")
@page_admin_required
def statistics_page():
    try:
        stats = _intake().statistics(request.args.get("call"))
    except ApiError as exc:
        abort(exc.status, exc.message)
    return render_template("privacy/statistics.html", stats=stats)


@internal.get("/access-log/<reference>")
def access_log_internal(reference: str):
    expected = current_app.config["SETTINGS"].privacy_api_key
    given = bearer_token(request.headers.get("Authorization"))
    if not expected or given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "Send the privacy API key as a bearer token.")
    items = access_log(session=db.session, reference=reference[:32])
    db.session.rollback()
    return {"reference": reference, "items": items}
