"""Read-only sync API for the consuming services' reconciliation (`SYNC_API_KEY`).

`GET /internal/v1/applications?after=<reference>&limit=<n>`: intake's truth per submitted application
(the status the candidate sees, departments, check, dossier) and the ids of the events it published
about it; `GET /internal/v1/events/<id>`: one published envelope, from the outbox, which keeps sent rows.
The key only reads: it can neither change anything nor act as staff.
"""
from __future__ import annotations

import hmac
import json

from flask import Blueprint, abort, current_app, jsonify, request
from marshmallow import Schema, fields, validate
from sqlalchemy import JSON, cast, select, type_coerce
from sqlalchemy.orm import selectinload

from services.intake.applications.models import Application
from services.intake.applications.status import CANDIDATE_VISIBLE
from services.intake.db import OUTBOX, db
from shared.auth import bearer_token
from shared.events.signing import REDACTABLE, redact
from shared.web import ApiError

bp = Blueprint("sync", __name__, url_prefix="/internal/v1")

MAX_PAGE = 500
# what review and notify consume about an application, in the order they must be re-applied
EVENT_TYPES = ("application.submitted", "application.checked", "application.status_changed", "dossier.rendered")
# what the sync API never serves of an event (an access link's event is not served at all)
SECRET_FIELDS = REDACTABLE


class PageArgs(Schema):
    after = fields.String(load_default="", validate=validate.Length(max=32))
    limit = fields.Integer(load_default=MAX_PAGE, validate=validate.Range(min=1, max=MAX_PAGE))


@bp.before_request
def _require_sync_key():
    expected = current_app.config["SETTINGS"].sync_api_key
    given = bearer_token(request.headers.get("Authorization"))
    # no key configured: the API is closed, not open
    if not expected or given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "Send the sync API key as a bearer token.")


def _reference_of_event():
    """The `data.reference` of an outbox row's event (its body is `[envelope]`, stored as text)."""
    # PostgreSQL's JSON operators need a real cast; SQLite's JSON functions read the text as it is
    # (and CAST(... AS JSON) there would turn it into a number)
    body = OUTBOX.c.body if db.session.get_bind().dialect.name == "sqlite" else cast(OUTBOX.c.body, JSON)
    return type_coerce(body, JSON)[(0, "data", "reference")].as_string()


def _events_by_reference(references: list[str]) -> dict[str, list[dict]]:
    rows = db.session.execute(
        select(OUTBOX.c.event_id, OUTBOX.c.event_type, _reference_of_event().label("reference"))
        .where(OUTBOX.c.event_type.in_(EVENT_TYPES), OUTBOX.c.event_id.is_not(None),
               _reference_of_event().in_(references))
        .order_by(OUTBOX.c.id)).all()
    events: dict[str, list[dict]] = {}
    seen = set()
    for row in rows:
        # one row per subscriber: the same event appears once per consuming service
        if row.event_id not in seen:
            seen.add(row.event_id)
            events.setdefault(row.reference, []).append({"id": row.event_id, "type": row.event_type})
    return events


def _visible_status(application: Application) -> str | None:
    """The status the candidate (and so review) last heard of: `checking` is intake's own business."""
    for change in reversed(application.history):
        if change.new in CANDIDATE_VISIBLE:
            return change.new
    return None


@bp.get("/applications")
def applications():
    args = PageArgs().load(request.args)
    page = db.session.scalars(
        select(Application).where(Application.reference > args["after"], Application.submitted_at.is_not(None))
        .options(selectinload(Application.history))
        .order_by(Application.reference).limit(args["limit"])).all()
    events = _events_by_reference([a.reference for a in page]) if page else {}
    items = [{
        "reference": a.reference,
        "status": _visible_status(a),
        "departments": list(dict.fromkeys(a.departments)),
        "checked": a.checked_at is not None,
        "dossier": ({"key": a.dossier_key, "pages": a.dossier_pages, "sha256": a.dossier_sha256}
                    if a.dossier_key else None),
        "updated_at": a.updated_at.isoformat(),
        "events": events.get(a.reference, []),
    } for a in page]
    db.session.rollback()
    return jsonify({"items": items, "next": items[-1]["reference"] if len(items) == args["limit"] else None})


@bp.get("/events/<event_id>")
def event(event_id: str):
    if len(event_id) > 64:
        abort(404, "No such event.")
    body = db.session.scalar(select(OUTBOX.c.body).where(OUTBOX.c.event_id == event_id,
                                                         OUTBOX.c.event_type.in_(EVENT_TYPES)).limit(1))
    db.session.rollback()
    if body is None:
        abort(404, "No such event.")
    # reconciliation needs what happened, never a way in: an email's single-use link stays with the email; the
    # copy without it carries the producer's signature of that copy, so consumers still verify what they apply
    return jsonify(redact(json.loads(body)[0]))
