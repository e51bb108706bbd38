"""`/openapi.json`: notify's delivery log API, described from its marshmallow schemas."""
from services.notify.deliveries.schemas import DeliveryPage, DeliveryQuery
from shared.openapi import errors, json_content, new_spec, openapi_blueprint


def build_spec() -> dict:
    spec = new_spec(title="NIP notify API", security_scheme="staffToken")
    spec.components.schema("DeliveryPage", schema=DeliveryPage)
    spec.path("/api/v1/notifications", operations={"get": {
        "summary": "The delivery log, newest first (staff)", "security": [{"staffToken": []}],
        "parameters": [{"in": "query", "schema": DeliveryQuery}],
        "responses": {"200": {"description": "A page of deliveries", "content": json_content("DeliveryPage")},
                      **errors("400", "401")}}})
    return spec.to_dict()


bp = openapi_blueprint(build_spec)
