"""Per-address limits on what an applicant can repeat: submissions, status lookups, "find my application".

Counted in Redis when the broker is Redis (every gunicorn worker and replica together), else in memory.
No address is exempt unless RATE_LIMIT_EXEMPT says so; behind TRUSTED_PROXIES proxies the address counted is
the client's, from X-Forwarded-For.
"""
from __future__ import annotations

import ipaddress
import logging

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.config import Settings
from shared.web import error_response, wants_json

log = logging.getLogger(__name__)

# scope -> (the Settings attribute holding the limit, the endpoints and methods it counts together)
LIMITS = {
    "submissions": ("submission_rate_limit", {"applications.submit": "POST", "pages.apply": "POST"}),
    "status": ("status_rate_limit", {"applications.status": "GET", "pages.status": "GET",
                                     "access.open_status": "GET"}),
    "access-links": ("access_link_rate_limit", {"access_api.request_links": "POST", "access.find": "POST"}),
}


def storage_uri(settings: Settings) -> str:
    """Redis when the broker is Redis, as review's sign-in limits; else memory (embedded mode)."""
    if settings.broker_url.startswith(("redis://", "rediss://")):
        return settings.broker_url
    return "memory://"


def _networks(spec: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()]


def _too_many_message() -> str:
    return _("Too many requests from your address. Please wait a while and try again.")


def init_limiter(app: Flask, settings: Settings) -> Limiter:
    """A limiter of this app's own (tests build many apps); call after every blueprint is registered."""
    exempt = _networks(settings.rate_limit_exempt)
    if settings.trusted_proxies:
        # each trusted proxy appends the address it got the request from; only those it added can be believed
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    limiter = Limiter(
        get_remote_address, app=app, storage_uri=storage_uri(settings), key_prefix="intake",
        headers_enabled=True, strategy="moving-window",
        # with Redis unreachable, count in memory rather than refuse every applicant
        swallow_errors=True, in_memory_fallback_enabled=True)

    @limiter.request_filter
    def _exempt() -> bool:
        try:
            address = ipaddress.ip_address(get_remote_address())
        except ValueError:
            return False
        return any(address in network for network in exempt)

    for scope, (setting, endpoints) in LIMITS.items():
        shared = limiter.shared_limit(getattr(settings, setting), scope=scope, error_message=_too_many_message,
                                      methods=sorted(set(endpoints.values())))
        for endpoint in endpoints:
            app.view_functions[endpoint] = shared(app.view_functions[endpoint])  # type: ignore[assignment]

    @app.errorhandler(429)
    def _too_many(exc):
        log.info("rate limited", extra={"endpoint": request.endpoint})
        if wants_json():
            return error_response(429, "too_many_requests", exc.description)
        return render_template("access/too_many.html"), 429

    return limiter
