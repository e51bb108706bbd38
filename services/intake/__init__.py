"""intake: applicants apply, see their status, add documents, withdraw; workers check and render."""
from __future__ import annotations

from celery.schedules import crontab
from flask import Flask

from shared.celery import make_celery
from shared.config import Settings, restrict_file_modes
from shared.events.signing import use_settings as use_event_keys
from shared.logging import configure_logging
from shared.web import instrument, ops_blueprint, register_error_handlers, send_security_headers, trust_proxies

MAX_REQUEST_BYTES = 25 * 1024 * 1024
# scripts and styles only from our own static files; never framed; the status page's address carries the
# applicant's key, so no page sends a referrer
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(settings: Settings | None = None, *, web: bool = True) -> Flask:
    """Build intake's web app and its Celery app; `web=False` for workers and beat, which are given no keys."""
    restrict_file_modes()
    settings = settings or Settings.from_env()
    if web:
        # intake is public: it gets its own session key and the applicant-token key, nothing that can make staff
        # and its events' signing key: submissions, access links and erasures are written to the outbox here
        needed = ["intake_secret_key", "applicant_token_key", "intake_event_signing_key"]
        if settings.sync_api_key:  # without it the sync API stays closed; a weak one is refused like any other
            needed.append("sync_api_key")
        if settings.privacy_api_key:  # review's erase/export/statistics calls; closed without it
            needed.append("privacy_api_key")
        settings.require(*needed)
        settings.require_documents_keys()  # it stores every upload
    configure_logging("intake")
    use_event_keys(settings)  # signs intake's events; verifies review's (decision.released)
    app = Flask(__name__)
    app.config.update(SETTINGS=settings, SECRET_KEY=settings.intake_secret_key, MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
                      JSON_SORT_KEYS=False)

    from services.intake import i18n, models  # noqa: F401  (every table registered)
    from services.intake.applications import pages, views as applications
    from services.intake.db import db
    from services.intake.openapi import bp as openapi
    from services.intake.programme import views as programme

    db.init_app(app, settings.intake_database_url)
    i18n.init_app(app)
    send_security_headers(app, SECURITY_HEADERS)
    register_error_handlers(app, html_handler=pages.error_page, api_error_page=pages.api_error_page)
    pages.init_csrf(app)
    trust_proxies(app, settings.trusted_proxies)
    instrument(app, "intake")
    app.register_blueprint(ops_blueprint(engine_getter=lambda: db.engine))
    app.register_blueprint(programme.bp)
    app.register_blueprint(applications.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(openapi)
    from services.intake.access import pages as access_pages, views as access_api
    from services.intake.limits import init_limiter

    app.register_blueprint(access_pages.bp)
    from services.intake.portal import pages as portal_pages

    app.register_blueprint(portal_pages.bp)
    app.register_blueprint(access_api.bp)
    init_limiter(app, settings)

    celery = make_celery("intake", settings=settings, flask_app=app, default_queue="intake.checks")
    celery.conf.beat_schedule = {
        "sweep-stuck-work": {"task": "intake.sweep_stuck", "schedule": 60.0, "options": {"queue": "intake.checks"}},
        "purge-old-drafts": {"task": "intake.purge_drafts", "schedule": 3600.0, "options": {"queue": "intake.checks"}},
        "purge-portal-links": {"task": "intake.purge_portal_links", "schedule": 3600.0,
                               "options": {"queue": "intake.checks"}},
        # notify's sweeper, scheduled by name: one beat for the whole stack
        "retry-overdue-email": {"task": "notify.retry_overdue", "schedule": 60.0, "options": {"queue": "notify.email"}},
        # consumers compare their view with intake's truth and repair what events failed to carry
        "reconcile-review": {"task": "review.reconcile", "schedule": 600.0, "options": {"queue": "review.events"}},
        "reconcile-notify": {"task": "notify.reconcile", "schedule": 600.0, "options": {"queue": "notify.email"}},
        # reviewers' daily digest of new assignments (notify), 07:00 UTC
        "staff-digest": {"task": "notify.send_digests", "schedule": crontab(hour=7, minute=0),
                         "options": {"queue": "notify.email"}},
    }
    from services.intake.applications import tasks  # noqa: F401
    from services.intake.access import tasks as access_tasks  # noqa: F401
    from services.intake.dossier import tasks as dossier_tasks  # noqa: F401
    from services.intake.portal import tasks as portal_tasks  # noqa: F401
    from services.intake import sync
    from services.intake import privacy

    privacy.init_app(app)
    celery.conf.beat_schedule.update(privacy.BEAT_SCHEDULE)

    sync.init_app(app)
    _register_metrics(app)

    return app


def _register_metrics(app: Flask) -> None:
    from services.intake.applications.models import Application
    from services.intake.db import OUTBOX, db
    from shared.metrics import register_pipeline_metrics

    register_pipeline_metrics(
        app, service="intake", engine_getter=lambda: db.engine, outbox=OUTBOX,
        queues=("intake.checks", "intake.events", "intake.render"),
        counts={"applications": ("gauge", "Applications by status", "status", Application.status),
                "dossiers_rendered": ("counter", "Applications whose dossier PDF was rendered", None,
                                      Application.dossier_key.is_not(None))})
