"""The review service: reviewers read, decide on and release applications."""
from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError

from services.review import models  # noqa: F401  (every table registered before use)
from services.review.accounts import service as accounts_service
from services.review.accounts import sessions as staff_sessions
from services.review.accounts.auth import login_manager
from services.review.accounts.limits import init_limiter
from services.review.db import db
from services.review.departments import DEPARTMENTS
from shared.celery import make_celery
from shared.config import Settings, SettingsError, restrict_file_modes
from shared.events.signing import use_settings as use_event_keys
from shared.logging import configure_logging
from shared.bounds import register_converters
from shared.web import instrument, ops_blueprint, register_error_handlers, send_security_headers, trust_proxies

log = logging.getLogger(__name__)
csrf = CSRFProtect()

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'self'; form-action 'self'",
}


def _html_error(exc):
    return render_template("error.html", error=exc), exc.code or 500


def require_admin_password(settings: Settings) -> None:
    """The first admin's password obeys the rule any user's does; refuse to start otherwise."""
    if settings.admin_password is None:
        return
    from services.review.accounts.schemas import NewUser

    errors = NewUser(only=("password",)).validate({"password": settings.admin_password})
    if errors:
        raise SettingsError("refusing to start: ADMIN_PASSWORD does not meet the password policy: "
                            + " ".join(errors["password"]))


def create_app(settings: Settings | None = None, *, first_admin: bool = True, web: bool = True) -> Flask:
    """Build the review web app (and its Celery app) from `settings`.

    `first_admin=False` for the worker: a Celery parent must not touch the database before it forks.
    `web=False` for the worker too: it serves no pages or tokens, so it is given no keys.
    """
    restrict_file_modes()
    settings = settings or Settings.from_env()
    if web:
        # the privacy key (erasure, export, statistics with intake) is checked like the others when set
        settings.require("review_secret_key", "staff_signing_key", "staff_verify_key", "review_event_signing_key",
                         *(["privacy_api_key"] if settings.privacy_api_key else []))
        settings.require_documents_keys()  # the dossiers it serves are encrypted at rest
    if first_admin:
        require_admin_password(settings)
    configure_logging("review")
    use_event_keys(settings)  # signs review's events (decisions, assignments); verifies intake's
    app = Flask(__name__)
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.review_secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.review_url.startswith("https://"),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.review_url.startswith("https://"),
        STAFF_SESSION_IDLE=staff_sessions.DEFAULT_IDLE_LIMIT,
        # a form's CSRF token lives no longer than the session it was issued in
        WTF_CSRF_TIME_LIMIT=int(staff_sessions.DEFAULT_IDLE_LIMIT.total_seconds()),
    )
    register_converters(app)  # `<id:...>` in the routes below
    db.init_app(app, settings.review_database_url)
    register_error_handlers(app, html_handler=_html_error)
    trust_proxies(app, settings.trusted_proxies)
    instrument(app, "review")
    login_manager.init_app(app)
    csrf.init_app(app)

    from services.review.accounts.views import api as accounts_api, bp as accounts_bp
    from services.review.applications.views import api as applications_api, bp as applications_bp
    from services.review.decisions.views import api as decisions_api, bp as decisions_bp

    app.register_blueprint(ops_blueprint(engine_getter=lambda: db.engine))
    from services.review.openapi import bp as openapi_bp

    app.register_blueprint(openapi_bp)
    for blueprint in (accounts_bp, applications_bp, decisions_bp):
        app.register_blueprint(blueprint)
    # the API authenticates with bearer tokens, never cookies, so there is no CSRF to guard against
    for blueprint in (accounts_api, applications_api, decisions_api):
        csrf.exempt(blueprint)
        app.register_blueprint(blueprint)
    from services.review.reviews import rubric
    from services.review.reviews.views import api as reviews_api, bp as reviews_bp

    rubric.init_app(app)
    app.register_blueprint(reviews_bp)
    csrf.exempt(reviews_api)  # bearer tokens only, as above
    app.register_blueprint(reviews_api)
    from services.review import i18n
    from services.review.audit.views import api as audit_api, bp as audit_bp
    from services.review.reports.views import api as reports_api, bp as reports_bp

    i18n.init_app(app)
    for blueprint in (audit_bp, reports_bp):
        app.register_blueprint(blueprint)
    for blueprint in (audit_api, reports_api):
        csrf.exempt(blueprint)  # bearer tokens only, as above
        app.register_blueprint(blueprint)
    from services.review import privacy

    privacy.init_app(app, csrf)
    from services.review.emails.views import bp as emails_bp

    app.register_blueprint(emails_bp)
    init_limiter(app, settings)

    @app.context_processor
    def _globals():
        return {"department_names": DEPARTMENTS}

    send_security_headers(app, SECURITY_HEADERS)

    make_celery("review", settings=settings, flask_app=app, default_queue="review.events")
    from services.review.applications import tasks  # noqa: F401  (registers review.handle_event)
    from services.review import dead_letters

    dead_letters.init_app(app)
    from services.review.db import OUTBOX
    from shared.metrics import register_pipeline_metrics

    register_pipeline_metrics(app, service="review", engine_getter=lambda: db.engine, outbox=OUTBOX,
                              queues=("review.events",))
    if not first_admin:
        return app
    with app.app_context():
        try:
            accounts_service.ensure_first_admin(session=db.session, email=settings.admin_email,
                                                password=settings.admin_password)
        except SQLAlchemyError:
            log.exception("could not check for a first admin; starting without")
            db.session.rollback()
        finally:
            # gunicorn --preload would fork after this: leave no pooled connection behind
            db.session.remove()
            db.engine.dispose()
    return app
