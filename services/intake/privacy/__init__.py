"""Data protection in intake: the versioned privacy notice and consent, erasure with tombstones, retention,
export, and anonymous statistics (docs/security.md, "Personal data")."""
from __future__ import annotations

from flask import Flask

# beat entries, merged into intake's schedule: erasure daily, orphans hourly
BEAT_SCHEDULE = {
    "retention": {"task": "intake.retention", "schedule": 24 * 3600.0, "options": {"queue": "intake.checks"}},
    "purge-orphaned-documents": {"task": "intake.purge_orphans", "schedule": 3600.0,
                                 "options": {"queue": "intake.checks"}},
}


def init_app(app: Flask) -> None:
    from services.intake.privacy import models, tasks  # noqa: F401  (tables and Celery tasks registered)
    from services.intake.privacy.views import bp, internal

    app.register_blueprint(bp)
    app.register_blueprint(internal)
