"""What every web app has: JSON errors, health and readiness, metrics, request logs."""
from __future__ import annotations

import hmac
import logging
import time
from contextlib import ExitStack
from typing import Callable

from flask import Blueprint, Flask, current_app, g, jsonify, request
from marshmallow import ValidationError
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from shared import metrics as shared_metrics
from shared.logging import correlation_id, log_context, new_correlation_id, sane_id
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)

REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "method", "endpoint", "status"])
LATENCY = Histogram("http_request_seconds", "HTTP request latency", ["service", "endpoint"])


class ApiError(Exception):
    """A 4xx answer: `{"error": {"code", "message", "fields"}}`."""

    def __init__(self, status: int, code: str, message: str, fields: dict | None = None, *,
                 reasons: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}
        # per-field reason codes (e.g. why each upload was refused), for clients that act on them
        self.reasons = reasons or {}


def error_response(status: int, code: str, message: str, fields: dict | None = None, reasons: dict | None = None):
    error = {"code": code, "message": message, "fields": fields or {}}
    if reasons:
        error["reasons"] = reasons
    return jsonify({"error": error}), status


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/internal/")) or request.accept_mimetypes.best == "application/json"


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def refuse_nul_characters() -> None:
    """A NUL is never part of a reference, a filter or a JSON field; PostgreSQL refuses it in text, as a 500."""
    bad = [k for k, v in request.args.items(multi=True) if _has_nul(k) or _has_nul(v)]
    bad += [k for k, v in (request.view_args or {}).items() if _has_nul(v)]
    if not bad and request.is_json:
        body = request.get_json(silent=True)
        if _has_nul(body):
            bad = [k for k, v in body.items() if _has_nul(k) or _has_nul(v)] if isinstance(body, dict) else ["_body"]
    if bad:
        raise ApiError(400, "invalid_characters", "The request contains a NUL character.",
                       {name.replace("\x00", "\\x00"): ["NUL characters are not allowed."] for name in bad})


def register_error_handlers(app: Flask, html_handler: Callable | None = None,
                            api_error_page: Callable | None = None) -> None:
    """JSON errors for the APIs; `html_handler` answers HTTP errors on pages, `api_error_page` a use case's
    ApiError on pages (a person never reads JSON)."""
    app.before_request(refuse_nul_characters)

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        if api_error_page is not None and not wants_json():
            return api_error_page(exc)
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.reasons)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return error_response(422, "invalid_fields", "Some fields are missing or invalid.", fields)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if html_handler is not None and not wants_json():
            return html_handler(exc)
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(DBAPIError)
    def _database_unavailable(exc: DBAPIError):
        # a connection cut mid-request (database restart, failover, pg_terminate_backend): nothing was
        # committed, or the Idempotency-Key makes the retry a replay; clients retry a 503. The driver reports
        # the cut as an operational error, or as an interface error when the socket was already gone.
        if not (isinstance(exc, (OperationalError, InterfaceError)) or exc.connection_invalidated):
            return _unexpected(exc)
        log.warning("database unavailable", extra={"path": request.path, "error": type(exc.orig).__name__})
        response, status = error_response(503, "database_unavailable",
                                          "The service is briefly unavailable; please try again.")
        response.headers["Retry-After"] = "1"
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error", extra={"path": request.path})
        return error_response(500, "internal_error", "Something went wrong on our side.")


def send_security_headers(app: Flask, headers: dict[str, str]) -> None:
    """These headers on every answer, unless a view has set its own."""

    @app.after_request
    def _security_headers(response):
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response


def trust_proxies(app: Flask, hops: int) -> None:
    """Believe the last `hops` entries of X-Forwarded-For (`TRUSTED_PROXIES`): each proxy appends the address it
    got the request from, so only those can be trusted. With 0 the header is ignored and the peer is the client."""
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)  # type: ignore[method-assign]


def metrics_authorised() -> bool:
    """Whether this request carries `METRICS_TOKEN` as its bearer token (compared in constant time)."""
    token = getattr(current_app.config.get("SETTINGS"), "metrics_token", None)
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def instrument(app: Flask, service: str) -> None:
    """Request metrics and one log line per request.

    The line names the route's endpoint, never the URL or headers: query strings carry applicants' keys
    (`?token=`) and headers carry bearer tokens. Metrics are labelled by the route's endpoint, never
    the raw path, so a reference in a URL makes no new series. Under gunicorn they add up across workers
    (shared/metrics.py).
    """
    settings = app.config.get("SETTINGS")
    if settings is not None:
        shared_metrics.configure_multiprocess(service=service, directory=getattr(settings, "metrics_dir", None),
                                              var_dir=settings.var_dir, embedded=settings.embedded_broker)

    def _start_timer():
        g.request_started = time.perf_counter()
        # a caller's own id (a proxy's, a client's retry) is kept when sane, so its logs and ours join up
        g.log_context = ExitStack()
        g.log_context.enter_context(log_context(
            correlation=sane_id(request.headers.get("X-Request-ID")) or new_correlation_id(),
            ref=(request.view_args or {}).get("reference")))

    # first of the app's before-request hooks: a request refused by another one is timed and traced too
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)

    @app.teardown_request
    def _end_context(_exc):
        context = g.pop("log_context", None)
        if context is not None:
            context.close()

    @app.after_request
    def _record(response):
        if correlation_id.get():
            response.headers["X-Request-ID"] = correlation_id.get()
        endpoint = request.endpoint or "unknown"
        elapsed = time.perf_counter() - g.get("request_started", time.perf_counter())
        REQUESTS.labels(service, request.method, endpoint, response.status_code).inc()
        LATENCY.labels(service, endpoint).observe(elapsed)
        log.info("request", extra={"method": request.method, "endpoint": endpoint,
                                   "status": response.status_code, "ms": round(elapsed * 1000, 1)})
        return response


def ops_blueprint(*, engine_getter: Callable, broker_url_getter: Callable | None = None) -> Blueprint:
    """`/healthz` (the process answers), `/readyz` (its database answers), `/metrics` (bearer `METRICS_TOKEN`)."""
    bp = Blueprint("ops", __name__)

    @bp.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    @bp.get("/readyz")
    def readyz():
        checks = {}
        try:
            with engine_getter().connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # readiness reports, it does not raise
            checks["database"] = f"error: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return jsonify({"status": "ok" if ready else "unavailable", "checks": checks}), 200 if ready else 503

    @bp.get("/metrics")
    def metrics():
        # counts by status and queue are nobody's business but the operator's: no token set, no metrics
        if not getattr(current_app.config.get("SETTINGS"), "metrics_token", None):
            return error_response(404, "not_found", "Not found.")
        if not metrics_authorised():
            response, status = error_response(401, "unauthorised", "A bearer token is required.")
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response, status
        return generate_latest(shared_metrics.scrape_registry()), 200, {"Content-Type": CONTENT_TYPE_LATEST}

    return bp
