"""`/api/v1/notifications` and `/api/v1/templates`: the delivery log, resends and template previews, for staff."""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, g, request

from services.notify.db import db
from services.notify.deliveries import service
from services.notify.deliveries.rendering import LANGUAGES, SAMPLES, preview, template_problems
from services.notify.deliveries.schemas import (DeliveryPage, DeliveryQuery, DeliveryRow, ResendRequest,
                                                TemplatePreviews)
from services.notify.deliveries.tasks import QUEUE, deliver
from shared.auth import bearer_token, verify_staff_token
from shared.db import utcnow
from shared.web import ApiError

log = logging.getLogger(__name__)
bp = Blueprint("deliveries", __name__, url_prefix="/api/v1")


@bp.before_request
def _require_staff_token():
    token = bearer_token(request.headers.get("Authorization"))
    # notify holds only the public key: it can check a staff token but never make one
    identity = token and verify_staff_token(current_app.config["SETTINGS"].staff_verify_key, token)
    if not identity:
        raise ApiError(401, "unauthorized", "A valid staff bearer token is required.")
    g.staff = identity


def _require_admin() -> None:
    if not g.staff.is_admin:
        raise ApiError(403, "forbidden", "Only an admin can do this.")


@bp.get("/notifications")
def list_notifications():
    query = DeliveryQuery().load(request.args)
    page = service.list_deliveries(session=db.session, staff=g.staff, **query)
    body = DeliveryPage().dump(page)
    body["items"] = [service.as_shown_to(g.staff, row) for row in body["items"]]
    return body


def _json_body() -> Any:
    """The request's JSON body, `{}` when there is none; a body that is not JSON is refused (400)."""
    if not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "invalid_json", "The body must be a JSON object (Content-Type: application/json).")
    return body


# `id`: 1 to 2**63 - 1 (shared/bounds.py); a larger number would overflow the database driver (a 500)
@bp.post("/notifications/<id:delivery_id>/resend")
def resend_notification(delivery_id: int):
    _require_admin()
    # a JSON value that is not an object ([] or false too) is refused by the schema (422)
    body = ResendRequest().load(_json_body())
    delivery = service.resend_delivery(session=db.session, delivery_id=delivery_id, staff=g.staff,
                                       email=body["email"], now=utcnow())
    db.session.commit()
    try:  # after the commit, so the worker finds it pending
        deliver.apply_async(args=[delivery.event_id], queue=QUEUE)
    except Exception:
        # it stays pending: retry_overdue sends it once the broker is back
        log.exception("could not queue a resend", extra={"event_id": delivery.event_id})
    return DeliveryRow().dump(delivery), 202


@bp.get("/templates")
def template_previews():
    _require_admin()
    items = []
    for template in sorted(SAMPLES):
        for language in LANGUAGES:
            email = preview(template, language)
            items.append({"template": template, "language": language, "sample": SAMPLES[template],
                          "subject": email.subject, "text": email.text, "html": email.html})
    return TemplatePreviews().dump({"items": items, "problems": template_problems()})
