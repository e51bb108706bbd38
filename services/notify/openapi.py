"""`/openapi.json`: notify's delivery log API, described from its marshmallow schemas."""
from services.notify.deliveries.schemas import (DeliveryPage, DeliveryQuery, DeliveryRow, ResendRequest,
                                                TemplatePreviews)
from shared.openapi import errors, json_content, new_spec, openapi_blueprint, path_parameter


def build_spec() -> dict:
    spec = new_spec(title="NIP notify API", security_scheme="staffToken")
    for name, schema in (("DeliveryPage", DeliveryPage), ("ResendRequest", ResendRequest),
                         ("TemplatePreviews", TemplatePreviews)):
        spec.components.schema(name, schema=schema)
    spec.path("/api/v1/notifications", operations={"get": {
        "summary": "The delivery log, newest first, as far as the staff member may read it",
        "security": [{"staffToken": []}],
        "parameters": [{"in": "query", "schema": DeliveryQuery}],
        "responses": {"200": {"description": "A page of deliveries", "content": json_content("DeliveryPage")},
                      **errors("400", "401", "422")}}})
    spec.path("/api/v1/notifications/{delivery_id}/resend", operations={"post": {
        "summary": "Send a failed email again, to a corrected address if given (admin)",
        "security": [{"staffToken": []}],
        "parameters": [path_parameter("delivery_id", "integer")],
        "requestBody": {"required": False, "content": json_content("ResendRequest")},
        "responses": {"202": {"description": "Queued again", "content": json_content(DeliveryRow)},
                      **errors("401", "403", "404", "409", "422")}}})
    spec.path("/api/v1/templates", operations={"get": {
        "summary": "Every email template in every language, rendered with sample data (admin)",
        "security": [{"staffToken": []}],
        "responses": {"200": {"description": "The previews and any template problems",
                              "content": json_content("TemplatePreviews")},
                      **errors("401", "403")}}})
    return spec.to_dict()


bp = openapi_blueprint(build_spec)
