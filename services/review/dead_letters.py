"""Staff's view of the events review's consumer gave up on: `GET /api/v1/dead-letters` (admins).

Replay is a command (`python -m services.review dead-letters --replay`), run once the cause is fixed.
"""
from __future__ import annotations

from flask import Blueprint, Flask, jsonify, request

from services.review.accounts.auth import api_admin_required
from services.review.db import DEAD_LETTERS, db
from shared.bus.consumer import CONSUMERS, dead_letters, register_dead_letter_metrics
from shared.web import ApiError

api = Blueprint("dead_letters_api", __name__, url_prefix="/api/v1")


@api.get("/dead-letters")
@api_admin_required
def list_dead_letters():
    include = request.args.get("include", "open")
    if include not in ("open", "all"):
        raise ApiError(400, "invalid_fields", "Some fields are missing or invalid.",
                       {"include": ["Must be one of: open, all."]})
    letters = dead_letters(consumer=CONSUMERS["review.handle_event"], include_replayed=include == "all")
    return jsonify({"items": letters, "count": len(letters)})


def init_app(app: Flask) -> None:
    app.register_blueprint(api)
    register_dead_letter_metrics(app, service="review", database=db, table=DEAD_LETTERS)
