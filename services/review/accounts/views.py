"""Sign-in pages, staff tokens and the users API."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import login_required, login_user, logout_user

from services.review.accounts import service
from services.review.accounts.auth import api_admin_required
from services.review.accounts.forms import LoginForm
from services.review.accounts.schemas import NewUser, TokenRequest, UserOut
from services.review.db import db
from shared.auth import issue_staff_token
from shared.web import ApiError

log = logging.getLogger(__name__)
bp = Blueprint("accounts", __name__)
api = Blueprint("accounts_api", __name__, url_prefix="/api/v1")

BAD_CREDENTIALS = "Email or password is incorrect."


def _safe_next(target: str | None) -> str:
    """Only a path on this site, so the login page cannot bounce anyone elsewhere."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("applications.list_page")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status, error = 200, None
    if form.validate_on_submit():
        user = service.authenticate(session=db.session, email=form.email.data, password=form.password.data)
        if user is not None:
            db.session.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        error = BAD_CREDENTIALS
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("accounts.login"))


@api.post("/auth/token")
def issue_token():
    payload = TokenRequest().load(request.get_json(silent=True))
    user = service.authenticate(session=db.session, email=payload["email"], password=payload["password"])
    if user is None:
        raise ApiError(401, "invalid_credentials", BAD_CREDENTIALS)
    db.session.commit()
    return jsonify({"token": issue_staff_token(current_app.config["SECRET_KEY"], user.identity())})


@api.post("/users")
@api_admin_required
def create_user():
    payload = NewUser().load(request.get_json(silent=True))
    try:
        user = service.create_user(session=db.session, **payload)
    except service.DuplicateEmail:
        raise ApiError(409, "duplicate_email", "A user with this email already exists.",
                       {"email": ["Already registered."]})
    db.session.commit()
    log.info("user created", extra={"user_id": user.id, "role": user.role, "by": g.staff.user_id})
    return jsonify(UserOut().dump(user)), 201
