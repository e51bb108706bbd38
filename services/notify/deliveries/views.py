"""`GET /api/v1/notifications`: the delivery log, for staff."""
from __future__ import annotations

from flask import Blueprint, current_app, g, request

from services.notify.db import db
from services.notify.deliveries import service
from services.notify.deliveries.schemas import DeliveryPage, DeliveryQuery
from shared.auth import bearer_token, verify_staff_token
from shared.web import ApiError

bp = Blueprint("deliveries", __name__, url_prefix="/api/v1")


@bp.before_request
def _require_staff_token():
    token = bearer_token(request.headers.get("Authorization"))
    # notify holds only the public key: it can check a staff token but never make one
    identity = token and verify_staff_token(current_app.config["SETTINGS"].staff_verify_key, token)
    if not identity:
        raise ApiError(401, "unauthorized", "A valid staff bearer token is required.")
    g.staff = identity


@bp.get("/notifications")
def list_notifications():
    query = DeliveryQuery().load(request.args)
    page = service.list_deliveries(session=db.session, **query)
    return DeliveryPage().dump(page)
