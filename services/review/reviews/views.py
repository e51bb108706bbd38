"""Reviews, assignments, the rubric, the reviewer's queue and the review settings: API and pages."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from wtforms.fields.choices import SelectChoice

from services.review.accounts.auth import (api_admin_required, api_staff_required, page_admin_required,
                                           page_staff_required)
from services.review.accounts.models import User
from services.review.applications.models import Application
from services.review.db import db
from services.review.reviews import service
from services.review.reviews.forms import AssignmentForm, SettingsForm, review_form
from services.review.reviews.rubric import current_rubric
from services.review.reviews.schemas import (AssignmentIn, AssignmentOut, CriterionOut, QueueItemOut, ReviewIn,
                                             ReviewOut, SettingsIn, SettingsOut)
from shared.auth import StaffIdentity
from shared.web import ApiError

bp = Blueprint("reviews", __name__)
api = Blueprint("reviews_api", __name__, url_prefix="/api/v1")


def _review_out(review, email: str) -> dict:
    body = ReviewOut().dump(review)
    body["reviewer"] = email
    return body


def _score_summary(application: Application, hidden: bool) -> dict:
    # the aggregate would tell a reviewer what the others scored before they have scored themselves
    return {"reference": application.reference,
            "score": None if hidden else application.score,
            "score_spread": None if hidden else application.score_spread,
            "reviews_done": application.reviews_done, "reviews_assigned": application.reviews_assigned}


def _queue_items(staff: StaffIdentity) -> list[dict]:
    blind = service.blind_for(session=db.session, staff=staff)
    items = []
    for application, assignment in service.queue(session=db.session, staff=staff):
        items.append({"reference": application.reference, "name": None if blind else application.name,
                      "submitted_at": application.submitted_at, "departments": application.department_codes,
                      "department": assignment.department, "assigned_at": assignment.assigned_at,
                      "url": url_for("applications.detail_page", reference=application.reference)})
    return items


def _assignment_dict(assignment, email: str, scored: bool) -> dict:
    return {"reviewer_id": assignment.reviewer_id, "reviewer": email, "department": assignment.department,
            "assigned_at": assignment.assigned_at, "assigned_by": assignment.assigned_by, "scored": scored}


def _flash_errors(errors: dict) -> None:
    for name, messages in errors.items():
        if isinstance(messages, dict):
            _flash_errors(messages)
            continue
        for message in messages:
            flash(message if name.startswith("_") else f"{name.replace('_', ' ')}: {message}", "error")


def _back_to(reference: str):
    return redirect(url_for("applications.detail_page", reference=reference) + "#review-h")


# --- API ----------------------------------------------------------------------------------------

@api.get("/rubric")
@api_staff_required
def rubric_api():
    return jsonify(CriterionOut(many=True).dump(current_rubric()))


@api.get("/queue")
@api_staff_required
def queue_api():
    return jsonify({"items": QueueItemOut(many=True).dump(_queue_items(g.staff))})


@api.get("/applications/<reference>/reviews")
@api_staff_required
def reviews_api(reference: str):
    application, rows, hidden = service.reviews_for(session=db.session, staff=g.staff, reference=reference)
    return jsonify({**_score_summary(application, hidden), "others_hidden": hidden,
                    "reviews": [_review_out(review, email) for review, email in rows]})


@api.post("/applications/<reference>/reviews")
@api_staff_required
def save_review_api(reference: str):
    payload = ReviewIn().load(request.get_json(silent=True) or {})
    review, created = service.save_review(session=db.session, staff=g.staff, reference=reference,
                                          rubric=current_rubric(), **payload)
    db.session.commit()
    return jsonify(_review_out(review, g.staff.email)), 201 if created else 200


@api.get("/applications/<reference>/assignments")
@api_staff_required
def assignments_api(reference: str):
    rows = service.list_assignments(session=db.session, staff=g.staff, reference=reference)
    return jsonify({"items": [AssignmentOut().dump(_assignment_dict(a, user.email, scored))
                              for a, user, scored in rows]})


@api.post("/applications/<reference>/assignments")
@api_staff_required
def assign_api(reference: str):
    payload = AssignmentIn().load(request.get_json(silent=True) or {})
    assignment = service.reassign(session=db.session, staff=g.staff, reference=reference, **payload)
    email = db.session.get_one(User, assignment.reviewer_id).email
    db.session.commit()
    return jsonify(AssignmentOut().dump(_assignment_dict(assignment, email, False))), 201


@api.get("/review-settings")
@api_admin_required
def settings_api():
    settings = service.get_settings(session=db.session)
    db.session.commit()
    return jsonify(SettingsOut().dump(settings))


@api.put("/review-settings")
@api_admin_required
def update_settings_api():
    payload = SettingsIn().load(request.get_json(silent=True) or {})
    settings = service.update_settings(session=db.session, staff=g.staff, **payload)
    db.session.commit()
    return jsonify(SettingsOut().dump(settings))


# --- pages --------------------------------------------------------------------------------------

def detail_context(application: Application) -> dict:
    """What the application page shows of reviews: the reviewer's form, the reviews they may read, the
    score, the assignment panel for coordinators and admins, and whether the page is blind."""
    staff = g.staff
    blind = service.blind_for(session=db.session, staff=staff)
    _, rows, hidden = service.reviews_for(session=db.session, staff=staff, reference=application.reference)
    own = next((review for review, _ in rows if review.reviewer_id == staff.user_id), None)
    assignments = service.assignments_of(session=db.session, reference=application.reference)
    # the form only where saving it would be allowed: not for a reviewer who left the assignment's department
    assigned = any(a.reviewer_id == staff.user_id and (staff.role != "reviewer" or a.department in staff.departments)
                   for a, _, _ in assignments)
    rubric = current_rubric()
    form = None
    if assigned and application.status == "under_review":
        data = {"recommendation": own.recommendation, "comment": own.comment,
                **{f"score_{code}": value for code, value in own.scores.items()}} if own else {}
        form = review_form(rubric, data=data)
    assignment_form = None
    if staff.role != "reviewer" and application.status == "under_review":
        candidates = service.candidate_reviewers(session=db.session, staff=staff, application=application)
        taken = {a.reviewer_id for a, _, _ in assignments}
        assignment_form = AssignmentForm()
        assignment_form.reviewer_id.choices = [SelectChoice(u.id, u.email) for u in candidates if u.id not in taken]
        assignment_form.replaces.choices = [SelectChoice("", "(add a reviewer)")] + [
            SelectChoice(a.reviewer_id, user.email) for a, user, scored in assignments if not scored]
    missing = 0
    if assignment_form is not None:
        missing = max(0, service.reviewers_wanted(session=db.session) - len(assignments))
    return {"blind": blind, "rubric": rubric, "review_form": form, "own_review": own,
            "reviews": rows, "others_hidden": hidden, "score": _score_summary(application, hidden),
            "assignments": assignments if staff.role != "reviewer" else [],
            "assignment_form": assignment_form, "reviewers_missing": missing}


@bp.get("/queue")
@page_staff_required
def queue_page():
    return render_template("reviews/queue.html", items=_queue_items(g.staff))


@bp.post("/applications/<reference>/review")
@page_staff_required
def save_review_page(reference: str):
    rubric = current_rubric()
    form = review_form(rubric)
    if not form.validate_on_submit():
        _flash_errors(form.errors)
        return _back_to(reference)
    scores = {c["code"]: form[f"score_{c['code']}"].data for c in rubric}
    try:
        _, created = service.save_review(session=db.session, staff=g.staff, reference=reference, scores=scores,
                                         comment=form.comment.data or "", recommendation=form.recommendation.data,
                                         rubric=rubric)
    except ApiError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404, exc.message)
        flash(exc.message, "error")
        _flash_errors(exc.fields)
        return _back_to(reference)
    db.session.commit()
    flash(gettext("Review saved.") if created else gettext("Review updated."), "success")
    return redirect(url_for("reviews.queue_page") if g.staff.role == "reviewer" and created else
                    url_for("applications.detail_page", reference=reference))


@bp.post("/applications/<reference>/assignments")
@page_staff_required
def assign_page(reference: str):
    form = AssignmentForm()
    if not form.validate_on_submit():
        _flash_errors(form.errors)
        return _back_to(reference)
    try:
        service.reassign(session=db.session, staff=g.staff, reference=reference, reviewer_id=form.reviewer_id.data,
                         replaces=form.replaces.data)
    except ApiError as exc:
        db.session.rollback()
        if exc.status in (403, 404):
            abort(exc.status, exc.message)
        flash(exc.message, "error")
        return _back_to(reference)
    db.session.commit()
    flash("Reviewer assigned.", "success")
    return redirect(url_for("applications.detail_page", reference=reference) + "#assignments-h")


@bp.route("/review-settings", methods=["GET", "POST"])
@page_admin_required
def settings_page():
    settings = service.get_settings(session=db.session)
    form = SettingsForm(obj=settings)
    if request.method == "POST":
        if form.validate_on_submit():
            service.update_settings(session=db.session, staff=g.staff, blind_round=form.blind_round.data,
                                    reviewers_per_application=form.reviewers_per_application.data)
            db.session.commit()
            flash("Review settings saved.", "success")
            return redirect(url_for("reviews.settings_page"))
        _flash_errors(form.errors)
    db.session.commit()
    return render_template("reviews/settings.html", form=form, settings=settings, rubric=current_rubric())
