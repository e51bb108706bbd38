"""The notify service: candidate emails on status changes, their delivery log, the embedded mailbox."""
from __future__ import annotations

from flask import Flask

from shared.celery import make_celery
from shared.config import Settings, restrict_file_modes
from shared.events.signing import use_settings as use_event_keys
from shared.logging import configure_logging
from shared.bounds import register_converters
from shared.web import instrument, ops_blueprint, register_error_handlers, trust_proxies

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def mailbox_enabled(settings: Settings) -> bool:
    """The mailbox shows the embedded catcher's folder: only in embedded mode, with mail going to the catcher."""
    return settings.embedded_broker and settings.smtp_host in LOCAL_HOSTS


def create_app(settings: Settings | None = None, *, web: bool = True) -> Flask:
    """Build the notify web app and its Celery app; `web=False` for the worker, which is given no key."""
    from services.notify import models  # noqa: F401  (every model registered before use)
    from services.notify.db import db
    from services.notify.deliveries import tasks  # noqa: F401  (registers the Celery tasks)
    from services.notify.staff import tasks as staff_tasks  # noqa: F401  (registers notify.send_digests)
    from services.notify.deliveries.smtp import sender_for
    from services.notify.deliveries.views import bp as deliveries_bp

    restrict_file_modes()
    settings = settings or Settings.from_env()
    if web:
        # the public half only: notify verifies staff tokens and has no sessions or forms to sign
        settings.require("staff_verify_key")
    configure_logging("notify")
    use_event_keys(settings)  # verifies intake's and review's events; notify produces none
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    db.init_app(app, settings.notify_database_url)
    app.extensions["notify.sender"] = sender_for(settings)

    register_error_handlers(app)
    register_converters(app)  # `<id:...>` in the routes below
    trust_proxies(app, settings.trusted_proxies)
    instrument(app, "notify")
    app.register_blueprint(ops_blueprint(engine_getter=lambda: db.engine))
    from services.notify.openapi import bp as openapi_bp

    app.register_blueprint(openapi_bp)
    app.register_blueprint(deliveries_bp)
    if mailbox_enabled(settings):
        from services.notify.mailbox.views import bp as mailbox_bp

        app.register_blueprint(mailbox_bp)

    make_celery("notify", settings=settings, flask_app=app, default_queue=tasks.QUEUE)
    from services.notify.db import DEAD_LETTERS
    from shared.bus.consumer import register_dead_letter_metrics

    register_dead_letter_metrics(app, service="notify", database=db, table=DEAD_LETTERS)
    from services.notify.db import OUTBOX
    from services.notify.deliveries.models import Delivery
    from shared.metrics import register_pipeline_metrics

    register_pipeline_metrics(app, service="notify", engine_getter=lambda: db.engine, outbox=OUTBOX,
                              queues=(tasks.QUEUE,),
                              counts={"emails": ("gauge", "Candidate emails by delivery state", "state",
                                                 Delivery.state)})
    return app
