"""Pages: an application's emails, failed deliveries across the call (with resend), template previews."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l

from services.review.accounts.auth import page_admin_required, page_staff_required
from services.review.applications.models import Application
from services.review.applications.service import visible
from services.review.audit import service as audit
from services.review.db import db
from services.review.emails.client import NotifyClient, NotifyRefused, NotifyUnavailable
from services.review.reviews.service import blind_for

MAX_PAGE = 100_000  # as the other lists; a larger number would only overflow notify's query

bp = Blueprint("emails", __name__)
UNAVAILABLE = _l("The email service cannot be reached right now; try again shortly.")


def _notify() -> NotifyClient:
    return NotifyClient(current_app.config["SETTINGS"], g.staff)


@bp.get("/applications/<reference>/emails")
@page_staff_required
def application_emails(reference: str):
    if db.session.scalar(visible(g.staff).where(Application.reference == reference)) is None:
        abort(404, "No such application.")
    if blind_for(session=db.session, staff=g.staff):
        abort(403, "The candidate's emails are hidden from reviewers during the blind round.")
    try:
        log = _notify().deliveries(reference=reference)
    except (NotifyUnavailable, NotifyRefused):
        log = None
    return render_template("emails/application.html", reference=reference, log=log, unavailable=UNAVAILABLE)


@bp.get("/emails/failed")
@page_admin_required
def failed_emails():
    page = min(request.args.get("page", 1, type=int) or 1, MAX_PAGE)
    try:
        log = _notify().deliveries(state="failed", page=max(page, 1))
    except (NotifyUnavailable, NotifyRefused):
        log = None
    return render_template("emails/failed.html", log=log, unavailable=UNAVAILABLE)


@bp.post("/emails/<id:delivery_id>/resend")
@page_admin_required
def resend(delivery_id: int):
    email = (request.form.get("email") or "").strip() or None
    try:
        row = _notify().resend(delivery_id, email=email)
    except NotifyUnavailable:
        flash(str(UNAVAILABLE), "error")
    except NotifyRefused as exc:
        flash(exc.message, "error")
    else:
        audit.record(session=db.session, actor=g.staff.email, action="email.resent", reference=row["reference"],
                     details={"delivery": delivery_id, "template": row["template"],
                              "address_changed": email is not None})
        db.session.commit()
        flash(_("The email %(template)s is queued again.", template=row["template"]), "success")
    back = request.form.get("back")
    # only our own pages: a form field must not send the admin elsewhere
    return redirect(back if back and back.startswith("/") and not back.startswith("//")
                    else url_for("emails.failed_emails"))


@bp.get("/emails/templates")
@page_admin_required
def template_previews():
    try:
        previews = _notify().templates()
    except (NotifyUnavailable, NotifyRefused):
        previews = None
    return render_template("emails/templates.html", previews=previews, unavailable=UNAVAILABLE)
