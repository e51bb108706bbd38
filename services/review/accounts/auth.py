"""Who is asking: session login for pages, staff bearer tokens for the API."""
from __future__ import annotations

from functools import wraps

from flask import abort, current_app, g, redirect, request, url_for
from flask_login import LoginManager, current_user

from services.review.accounts.models import User
from services.review.accounts.sessions import load_session_user
from services.review.db import db
from shared.auth import StaffIdentity, bearer_token, verify_staff_token
from shared.web import ApiError, wants_json

login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    # only a live server-side session counts: a copied cookie dies with sign-out, idleness or deactivation
    return load_session_user(user_id)


@login_manager.unauthorized_handler
def _unauthorized():
    if wants_json() or request.headers.get("Authorization"):
        raise ApiError(401, "unauthorized", "Sign in or send a valid staff bearer token.")
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def staff_from_bearer() -> StaffIdentity | None:
    """The active user a valid bearer token names, with their current role and departments."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        return None
    claims = verify_staff_token(current_app.config["SETTINGS"].staff_verify_key, token)
    if claims is None:
        return None
    user = db.session.get(User, claims.user_id)
    return user.identity() if user is not None and user.active else None


def current_staff(*, allow_session: bool = True, allow_bearer: bool = True) -> StaffIdentity | None:
    if allow_bearer and request.headers.get("Authorization"):
        return staff_from_bearer()
    if allow_session and current_user.is_authenticated:
        return current_user.identity()
    return None


def staff_required(*, allow_session: bool = True, allow_bearer: bool = True, admin: bool = False):
    """Decorator: sets `g.staff`; 401 JSON or a redirect to the login page when anonymous."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            staff = current_staff(allow_session=allow_session, allow_bearer=allow_bearer)
            if staff is None:
                return _unauthorized()
            if admin and not staff.is_admin:
                abort(403, "Only an admin may do this.")
            g.staff = staff
            return view(*args, **kwargs)

        return wrapper

    return decorate


api_staff_required = staff_required(allow_session=False)
api_admin_required = staff_required(allow_session=False, admin=True)
page_staff_required = staff_required(allow_bearer=False)
page_admin_required = staff_required(allow_bearer=False, admin=True)
