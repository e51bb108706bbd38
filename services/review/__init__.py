"""The review service: reviewers read, decide on and release applications."""
from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError

from services.review import models  # noqa: F401  (every table registered before use)
from services.review.accounts import service as accounts_service
from services.review.accounts.auth import login_manager
from services.review.db import db
from services.review.departments import DEPARTMENTS
from shared.celery import make_celery
from shared.config import Settings
from shared.logging import configure_logging
from shared.web import instrument, ops_blueprint, register_error_handlers

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


def create_app(settings: Settings | None = None) -> Flask:
    """Build the review web app (and its Celery app) from `settings`."""
    settings = settings or Settings.from_env()
    configure_logging("review")
    app = Flask(__name__)
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
    )
    db.init_app(app, settings.review_database_url)
    register_error_handlers(app, html_handler=_html_error)
    instrument(app, "review")
    login_manager.init_app(app)
    csrf.init_app(app)

    from services.review.accounts.views import api as accounts_api, bp as accounts_bp
    from services.review.applications.views import api as applications_api, bp as applications_bp
    from services.review.decisions.views import api as decisions_api, bp as decisions_bp

    app.register_blueprint(ops_blueprint(engine_getter=lambda: db.engine))
    for blueprint in (accounts_bp, applications_bp, decisions_bp):
        app.register_blueprint(blueprint)
    # the API authenticates with bearer tokens, never cookies, so there is no CSRF to guard against
    for blueprint in (accounts_api, applications_api, decisions_api):
        csrf.exempt(blueprint)
        app.register_blueprint(blueprint)

    @app.context_processor
    def _globals():
        return {"department_names": DEPARTMENTS}

    @app.after_request
    def _security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    make_celery("review", settings=settings, flask_app=app, default_queue="review.events")
    from services.review.applications import tasks  # noqa: F401  (registers review.handle_event)

    with app.app_context():
        try:
            accounts_service.ensure_first_admin(session=db.session, email=settings.admin_email,
                                                password=settings.admin_password)
        except SQLAlchemyError:
            log.exception("could not check for a first admin; starting without")
            db.session.rollback()
    return app
