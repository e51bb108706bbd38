"""Per-address limits on the sign-in endpoints, shared by every worker through Redis when there is one."""
from __future__ import annotations

import logging

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from shared.config import Settings

log = logging.getLogger(__name__)

DEFAULT_LOGIN_RATE_LIMIT = "20 per minute"
# every endpoint that checks a password or a refresh token
LIMITED_ENDPOINTS = ("accounts.login", "accounts_api.issue_token", "accounts_api.refresh")


def storage_uri(settings: Settings) -> str:
    """Redis when the broker is Redis (all gunicorn workers and replicas count together); else memory."""
    if settings.broker_url.startswith(("redis://", "rediss://")):
        return settings.broker_url
    return "memory://"


def _login_rate_limit() -> str:
    return current_app.config.get("LOGIN_RATE_LIMIT", DEFAULT_LOGIN_RATE_LIMIT)


def init_limiter(app: Flask, settings: Settings) -> Limiter:
    """A limiter of this app's own (tests build many apps), applied to the sign-in endpoints' POSTs.

    Call after the blueprints are registered.
    """
    app.config.setdefault("LOGIN_RATE_LIMIT", DEFAULT_LOGIN_RATE_LIMIT)
    limiter = Limiter(
        get_remote_address, app=app, storage_uri=storage_uri(settings), key_prefix="review-login",
        headers_enabled=True, strategy="moving-window",
        # with Redis unreachable, count in memory rather than refuse every sign-in; the per-account
        # lock-out in the database still holds
        swallow_errors=True, in_memory_fallback_enabled=True)
    for endpoint in LIMITED_ENDPOINTS:
        # Flask-Limiter types its decorator's result as maybe async; these views stay synchronous
        app.view_functions[endpoint] = limiter.limit(  # type: ignore[assignment]
            _login_rate_limit, methods=["POST"],
            error_message="Too many sign-in attempts from your address; wait a minute and try again.",
        )(app.view_functions[endpoint])
    return limiter
