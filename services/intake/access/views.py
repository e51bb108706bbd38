"""The API of the way back in: `POST /api/v1/access-links`. Thin: parse, answer, work after answering."""
from __future__ import annotations

from flask import Blueprint, request

from services.intake.access.pages import send_status_links_after_response
from services.intake.access.schemas import AccessLinkRequestSchema, AccessLinksAcceptedSchema
from shared.web import ApiError

bp = Blueprint("access_api", __name__)
ACCEPTED = AccessLinksAcceptedSchema().dump(
    {"message": "If an application was sent from this address, a link to it is on its way by email."})


@bp.post("/api/v1/access-links")
def request_links():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "Send a JSON object: {\"email\": ...}.")
    email = AccessLinkRequestSchema().load(body)["email"]
    # the same answer, sent before any lookup, whether or not the address is known
    return send_status_links_after_response(ACCEPTED, 202, email=email)
