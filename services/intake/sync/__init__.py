"""What intake offers its consumers beyond events: a read-only sync API, and its dead-letter metrics."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from services.intake.db import DEAD_LETTERS, db
    from services.intake.sync.views import bp
    from shared.bus.consumer import register_dead_letter_metrics

    app.register_blueprint(bp)
    register_dead_letter_metrics(app, service="intake", database=db, table=DEAD_LETTERS)
