"""Sign-in pages, staff tokens and the users API and page."""
from __future__ import annotations

import logging
import math
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, \
    session as flask_session, url_for
from flask_babel import gettext
from flask_login import login_required, login_user, logout_user

from services.review.accounts import service, sessions, tokens
from services.review.accounts.auth import api_admin_required, page_admin_required
from services.review.accounts.forms import LoginForm, UserActionForm
from services.review.accounts.models import ROLES, User
from services.review.accounts.schemas import NewUser, RefreshRequest, TokenRequest, UserChange, UserOut
from services.review.audit import service as audit
from services.review.db import db
from services.review.i18n import role_label
from services.review.reviews.service import Handover
from shared.auth import STAFF_ACCESS_TOKEN_TTL, issue_staff_token
from shared.db import utcnow
from shared.web import ApiError, error_response

log = logging.getLogger(__name__)
bp = Blueprint("accounts", __name__)
api = Blueprint("accounts_api", __name__, url_prefix="/api/v1")

BAD_CREDENTIALS = "Email or password is incorrect."
TOO_MANY_ATTEMPTS = ("Too many failed sign-in attempts for this account from your address. Wait a few minutes "
                     "and try again, or ask the programme office to unlock it.")


def _safe_next(target: str | None, home: str | None = None) -> str:
    """Only a path on this site, so the login page cannot bounce anyone elsewhere."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return home or url_for("applications.list_page")


def _throttle() -> service.ThrottlePolicy:
    return current_app.config.get("LOGIN_THROTTLE", service.DEFAULT_THROTTLE)


def _refresh_ttl() -> timedelta:
    return current_app.config.get("STAFF_REFRESH_TOKEN_TTL", tokens.DEFAULT_REFRESH_TTL)


def _access_ttl() -> int:
    return current_app.config.get("STAFF_ACCESS_TOKEN_TTL", STAFF_ACCESS_TOKEN_TTL)


def _token_pair(user: User, refresh_token: str) -> dict:
    ttl = _access_ttl()
    return {"token": issue_staff_token(current_app.config["SETTINGS"].staff_signing_key, user.identity(), ttl=ttl),
            "refresh_token": refresh_token, "expires_in": ttl, "token_type": "Bearer"}


def _retry_after(exc: service.TooManyAttempts) -> str:
    return str(max(1, math.ceil((exc.until - utcnow()).total_seconds())))


def _throttled_response(exc: service.TooManyAttempts):
    response, status = error_response(429, "too_many_attempts", TOO_MANY_ATTEMPTS)
    response.headers["Retry-After"] = _retry_after(exc)
    return response, status


@bp.errorhandler(429)
def _rate_limited(exc):
    """The per-address limit on the sign-in form (the only limited page): the form again, with the reason."""
    return render_template("login.html", form=LoginForm(), error=exc.description), 429


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status, error = 200, None
    if form.validate_on_submit():
        try:
            user = service.authenticate(session=db.session, email=form.email.data, password=form.password.data,
                                        source=request.remote_addr, policy=_throttle())
        except service.TooManyAttempts as exc:
            return (render_template("login.html", form=form, error=TOO_MANY_ATTEMPTS), 429,
                    {"Retry-After": _retry_after(exc)})
        if user is not None:
            # signing in again from this browser ends the session it had, so a copy of that cookie dies too
            sessions.end(session=db.session, session_id=flask_session.get(sessions.COOKIE_KEY))
            session_id = sessions.start(session=db.session, user=user, idle_limit=sessions.idle_limit())
            audit.record(session=db.session, actor=user.email, action="login", details={"via": "page"})
            db.session.commit()
            # a fresh cookie: nothing from before sign-in (a planted session, an old CSRF token) carries over
            flask_session.clear()
            flask_session[sessions.COOKIE_KEY] = session_id
            login_user(user)
            # a reviewer's home is their queue
            home = url_for("reviews.queue_page") if user.role == "reviewer" else None
            return redirect(_safe_next(request.args.get("next"), home))
        db.session.commit()  # the failure counts towards the throttle
        error = BAD_CREDENTIALS
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout():
    sessions.end(session=db.session, session_id=flask_session.get(sessions.COOKIE_KEY))
    db.session.commit()
    logout_user()
    flask_session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("accounts.login"))


@api.post("/auth/token")
def issue_token():
    payload = TokenRequest().load(request.get_json(silent=True) or {})
    try:
        user = service.authenticate(session=db.session, email=payload["email"], password=payload["password"],
                                    source=request.remote_addr, policy=_throttle())
    except service.TooManyAttempts as exc:
        return _throttled_response(exc)
    if user is None:
        db.session.commit()  # the failure counts towards the throttle
        raise ApiError(401, "invalid_credentials", BAD_CREDENTIALS)
    refresh_token = tokens.issue(session=db.session, user=user, ttl=_refresh_ttl())
    audit.record(session=db.session, actor=user.email, action="login", details={"via": "token"})
    db.session.commit()
    return jsonify(_token_pair(user, refresh_token))


@api.post("/auth/refresh")
def refresh():
    payload = RefreshRequest().load(request.get_json(silent=True) or {})
    try:
        user, refresh_token = tokens.rotate(session=db.session, token=payload["refresh_token"], ttl=_refresh_ttl())
    except tokens.RefreshRefused as exc:
        db.session.commit()  # a detected reuse keeps its family revoked
        log.info("refresh refused", extra={"reason": exc.reason})
        raise ApiError(401, "invalid_refresh_token", "The refresh token is not valid any more; sign in again.")
    db.session.commit()
    return jsonify(_token_pair(user, refresh_token))


def _user_or_404(user_id: int) -> User:
    user = service.get_user(session=db.session, user_id=user_id)
    if user is None:
        raise ApiError(404, "not_found", "No such user.")
    return user


def _user_out(user: User, locked: set[int]) -> dict:
    """`UserStatusOut`: the user and whether their sign-in is throttled after failures (`locked`)."""
    return {**UserOut().dump(user), "locked": user.id in locked}


@api.get("/users")
@api_admin_required
def list_users():
    users = service.list_users(session=db.session)
    locked = service.throttled_users(session=db.session, users=users)
    return jsonify({"items": [_user_out(user, locked) for user in users]})


@api.post("/users")
@api_admin_required
def create_user():
    payload = NewUser().load(request.get_json(silent=True) or {})
    try:
        user = service.create_user(session=db.session, **payload)
    except service.DuplicateEmail:
        raise ApiError(409, "duplicate_email", "A user with this email already exists.",
                       {"email": ["Already registered."]})
    audit.record(session=db.session, actor=g.staff.email, action="user.created",
                 details={"user_id": user.id, "role": user.role, "departments": user.departments})
    db.session.commit()
    log.info("user created", extra={"user_id": user.id, "role": user.role, "by": g.staff.user_id})
    return jsonify(UserOut().dump(user)), 201


def _change_user(user: User, changes: dict) -> Handover:
    try:
        handover = service.update_user(session=db.session, user=user, by=g.staff.email, **changes)
    except service.LastAdmin:
        db.session.rollback()
        raise ApiError(409, "last_admin", "This would leave no active admin.")
    audit.record(session=db.session, actor=g.staff.email, action="user.updated",
                 details={"user_id": user.id, **changes, "assignments_moved": handover.moved,
                          "assignments_unassigned": handover.unassigned})
    return handover


def _handover_message(handover: Handover) -> str:
    """What the admin is told became of the user's open assignments; empty when they had none to give up."""
    if not handover.moved and not handover.unassigned:
        return ""
    return " " + gettext("Open assignments moved to other reviewers: %(moved)d; left without a reviewer: %(left)d.",
                         moved=handover.moved, left=handover.unassigned)


@api.patch("/users/<id:user_id>")
@api_admin_required
def update_user(user_id: int):
    changes = UserChange().load(request.get_json(silent=True) or {})
    user = _user_or_404(user_id)
    handover = _change_user(user, changes)
    db.session.commit()
    log.info("user updated", extra={"user_id": user.id, "fields": sorted(changes), "by": g.staff.user_id})
    return jsonify({**_user_out(user, service.throttled_users(session=db.session, users=[user])),
                    "assignments": {"moved": handover.moved, "unassigned": handover.unassigned}})


@api.post("/users/<id:user_id>/unlock")
@api_admin_required
def unlock_user(user_id: int):
    user = _user_or_404(user_id)
    was_locked = service.unlock(session=db.session, user=user)
    audit.record(session=db.session, actor=g.staff.email, action="user.unlocked", details={"user_id": user.id})
    db.session.commit()
    log.info("sign-in unlocked", extra={"user_id": user.id, "was_locked": was_locked, "by": g.staff.user_id})
    return jsonify(_user_out(user, set()))


@bp.get("/users")
@page_admin_required
def users_page():
    users = service.list_users(session=db.session)
    return render_template("accounts/users.html", users=users, roles=ROLES, form=UserActionForm(),
                           locked=service.throttled_users(session=db.session, users=users))


@bp.post("/users/<id:user_id>")
@page_admin_required
def update_user_page(user_id: int):
    """One action from the users page: activate, deactivate, unlock or set role and departments."""
    form = UserActionForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
        return redirect(url_for("accounts.users_page"))
    user = service.get_user(session=db.session, user_id=user_id)
    if user is None:
        abort(404, "No such user.")
    action, handover = form.action.data, Handover()
    try:
        if action == "unlock":
            service.unlock(session=db.session, user=user)
            audit.record(session=db.session, actor=g.staff.email, action="user.unlocked",
                         details={"user_id": user.id})
            message = gettext("%(email)s can sign in again.", email=user.email)
        elif action == "activate":
            handover = _change_user(user, {"active": True})
            message = gettext("%(email)s is active again.", email=user.email)
        elif action == "deactivate":
            handover = _change_user(user, {"active": False})
            message = gettext("%(email)s is deactivated. Their sessions have ended.", email=user.email)
        else:
            handover = _change_user(user, {"role": form.role.data, "departments": form.departments.data})
            message = gettext("%(email)s is now %(role)s.", email=user.email, role=role_label(form.role.data))
    except ApiError as exc:
        flash(exc.message, "error")
        return redirect(url_for("accounts.users_page"))
    db.session.commit()
    flash(message + _handover_message(handover), "success")
    return redirect(url_for("accounts.users_page"))
