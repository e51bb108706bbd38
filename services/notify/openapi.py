"""`/openapi.json`: notify's delivery log API, described from its marshmallow schemas.

Every status an operation can answer is listed with what causes it; every error has the shared shape.
"""
from services.notify.deliveries.schemas import (DeliveryPage, DeliveryQuery, DeliveryRow, ResendRequest,
                                                TemplatePreviews)
from shared.bounds import id_path_parameter
from shared.openapi import json_content, new_spec, openapi_blueprint

STAFF_TOKEN = "staffToken"
STAFF_TOKEN_DESCRIPTION = (
    "A staff access token: a JWT (EdDSA) that review signs with its Ed25519 key (`STAFF_SIGNING_KEY`) for a "
    "signed-in staff member (`POST /api/v1/auth/token` on review), valid 15 minutes; notify checks it with the "
    "public key only (`STAFF_VERIFY_KEY`). Its `role` (admin, coordinator, reviewer) and `departments` decide "
    "what the caller may read and do.")
# what causes each refusal, per status; the body is always the shared error shape
WHY = {
    "400": "A NUL character in the query or the body (`invalid_characters`), or a body that is not JSON "
           "(`invalid_json`)",
    "401": "No staff bearer token, or one that is forged, expired or not an access token (`unauthorized`)",
    "403": "The caller is not an admin (`forbidden`)",
    "404": "No such email, or a path that is not a delivery id (`not_found`)",
    "409": "The email is not failed (`not_failed`), or was never rendered (`not_rendered`): nothing to resend",
    "422": "A parameter or a field out of its bounds or malformed (`invalid_fields`; `fields` names each)",
    "503": "The database connection was cut mid-request (`database_unavailable`); nothing was committed, retry "
           "after `Retry-After` seconds",
}


def refusals(*codes: str) -> dict:
    """The error responses of an operation, each with its cause."""
    responses = {}
    for code in codes:
        response = {"description": WHY[code], "content": json_content("Error")}
        if code == "503":
            response["headers"] = {"Retry-After": {"description": "Seconds to wait before retrying",
                                                   "schema": {"type": "integer"}}}
        responses[code] = response
    return responses


def build_spec() -> dict:
    spec = new_spec(title="NIP notify API", security_scheme=STAFF_TOKEN)
    for name, schema in (("DeliveryRow", DeliveryRow), ("DeliveryPage", DeliveryPage),
                         ("ResendRequest", ResendRequest), ("TemplatePreviews", TemplatePreviews)):
        spec.components.schema(name, schema=schema)
    spec.path("/api/v1/notifications", operations={"get": {
        "operationId": "listNotifications",
        "summary": "The delivery log, newest first, as far as the staff member may read it",
        "description": "Admins read every delivery, coordinators those of their departments' applications, "
                       "reviewers those of the applications assigned to them, with `recipient` null. `event_id` and "
                       "`last_error` (the mail server's answer, addresses removed) are null for anyone but an "
                       "admin. A reference outside one's scope answers an empty page, like an unknown one.",
        "security": [{STAFF_TOKEN: []}],
        "parameters": [{"in": "query", "schema": DeliveryQuery}],
        "responses": {"200": {"description": "A page of deliveries", "content": json_content("DeliveryPage"),
                              "links": {"ResendFirst": {
                                  "operationId": "resendNotification",
                                  "parameters": {"delivery_id": "$response.body#/items/0/id"},
                                  "description": "Resend the first email of the page (admin; a failed one)"}}},
                      **refusals("400", "401", "422", "503")}}})
    spec.path("/api/v1/notifications/{delivery_id}/resend", operations={"post": {
        "operationId": "resendNotification",
        "summary": "Send a failed email again, to a corrected address if given (admin)",
        "security": [{STAFF_TOKEN: []}],
        "parameters": [id_path_parameter("delivery_id")],
        "requestBody": {"required": False, "content": json_content("ResendRequest")},
        "responses": {"202": {"description": "Queued again: the delivery, pending", "content": json_content("DeliveryRow")},
                      **refusals("400", "401", "403", "404", "409", "422", "503")}}})
    spec.path("/api/v1/templates", operations={"get": {
        "operationId": "previewTemplates",
        "summary": "Every email template in every language, rendered with sample data (admin)",
        "security": [{STAFF_TOKEN: []}],
        "responses": {"200": {"description": "The previews and any template problems",
                              "content": json_content("TemplatePreviews")},
                      **refusals("400", "401", "403")}}})
    document = spec.to_dict()
    document["components"]["securitySchemes"][STAFF_TOKEN].update(
        bearerFormat="JWT", description=STAFF_TOKEN_DESCRIPTION)
    return document


bp = openapi_blueprint(build_spec)
