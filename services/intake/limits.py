"""Per-address limits on what an applicant can repeat: submissions, status lookups, "find my application".

Counted in Redis when the broker is Redis (every gunicorn worker and replica together), else in memory.
No address is exempt unless RATE_LIMIT_EXEMPT says so; behind TRUSTED_PROXIES proxies the address counted is
the client's, from X-Forwarded-For (`shared.web.trust_proxies`, applied by the app factory). Access-link emails are also bounded per recipient, whoever asks for them.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from dataclasses import dataclass

from flask import Flask, current_app, render_template, request
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many

from services.intake.applications.service import normalize_email
from shared.config import Settings
from shared.web import error_response, wants_json

log = logging.getLogger(__name__)

# scope -> (the Settings attribute holding the limit, the endpoints and methods it counts together)
LIMITS = {
    "submissions": ("submission_rate_limit", {"applications.submit": "POST", "pages.apply": "POST"}),
    "status": ("status_rate_limit", {"applications.status": "GET", "portal.application": "GET",
                                     "portal.open_link": "GET"}),
    "access-links": ("access_link_rate_limit", {"access_api.request_links": "POST", "access.find": "POST",
                                                "portal.fresh_link": "POST"}),
}
RECIPIENT_LIMIT = "intake.recipient_limit"


@dataclass(frozen=True)
class RecipientLimit:
    """How many access-link emails one address may receive, counted in the limiter's own storage."""

    limiter: Limiter
    items: list[RateLimitItem]

    def allows(self, recipient: str) -> bool:
        """Count one email to `recipient` (a digest); False once any of the limits is spent."""
        identifiers = ("intake", "access-link-recipient", recipient)
        try:
            # Redis, or memory once Flask-Limiter has found Redis unreachable
            strategy = self.limiter.limiter
            return (all(strategy.test(item, *identifiers) for item in self.items)
                    and all([strategy.hit(item, *identifiers) for item in self.items]))
        except Exception:
            # uncounted rather than lost: the per-client limits still hold
            log.exception("access-link emails not counted", extra={"recipient": recipient})
            return True


def recipient_digest(email: str, *, token_key: str) -> str:
    """The address as counted and logged; keyed, so a list of addresses cannot be matched against it."""
    key = hmac.new(token_key.encode(), b"intake.recipient-limit", hashlib.sha256).digest()
    return hmac.new(key, normalize_email(email).encode(), hashlib.sha256).hexdigest()[:32]


def may_email(email: str) -> bool:
    """Whether an access-link email to `email` may be queued now; counts it, logs (hashed) when refused."""
    recipient = recipient_digest(email, token_key=current_app.config["SETTINGS"].applicant_token_key)
    if current_app.extensions[RECIPIENT_LIMIT].allows(recipient):
        return True
    log.warning("access-link emails to one address over the limit: none queued", extra={"recipient": recipient})
    return False


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

    app.extensions[RECIPIENT_LIMIT] = RecipientLimit(limiter, parse_many(settings.access_link_recipient_limit))

    @app.errorhandler(429)
    def _too_many(exc):
        log.info("rate limited", extra={"endpoint": request.endpoint})
        if wants_json():
            return error_response(429, "too_many_requests", exc.description)
        return render_template("access/too_many.html"), 429

    return limiter
