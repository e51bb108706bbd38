"""`/openapi.json`: the applicants' API, described from its marshmallow schemas."""
from services.intake.access.schemas import AccessLinkRequestSchema
from services.intake.applications.schemas import ApplicationSchema, ApplicationStatusSchema
from services.intake.programme.schemas import ProgrammeSchema
from services.intake.privacy.openapi import add_paths as add_privacy_paths
from shared.openapi import errors, json_content, new_spec, openapi_blueprint, path_parameter


def build_spec() -> dict:
    spec = new_spec(title="NIP intake API", security_scheme="applicantToken", error_properties={
        "reasons": {"type": "object", "description": "Per refused document (by part name), its reason code",
                    "additionalProperties": {"type": "string"}}})
    spec.components.schema("Application", schema=ApplicationSchema)
    spec.components.schema("ApplicationStatus", schema=ApplicationStatusSchema)
    spec.components.schema("Programme", schema=ProgrammeSchema)
    ref = path_parameter("reference")
    status_ok = {"description": "The application as its applicant sees it",
                 "content": json_content("ApplicationStatus")}
    files = {"cv": {"type": "string", "format": "binary"},
             "academic_proof": {"type": "string", "format": "binary"},
             "language_certificate": {"type": "string", "format": "binary"}}
    spec.path("/api/v1/programme", operations={"get": {"summary": "The open call", "responses": {
        "200": {"description": "The call", "content": json_content("Programme")}, **errors("404")}}})
    spec.path("/api/v1/applications", operations={"post": {
        "summary": "Submit an application",
        "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 200}}],
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["application", "cv", "academic_proof"],
            "properties": {"application": {"type": "string", "description": "Application JSON"}, **files}}}}},
        "responses": {"201": {"description": "Submitted", "content": json_content({
            "type": "object", "properties": {k: {"type": "string"} for k in
                                             ("reference", "status", "status_url", "token")}})},
            **errors("400", "409", "413", "415", "422", "429")}}})
    spec.path("/api/v1/applications/{reference}", operations={"get": {
        "summary": "Status, history and problems", "security": [{"applicantToken": []}], "parameters": [ref],
        "responses": {"200": status_ok, **errors("401", "404", "429")}}})
    spec.path("/api/v1/applications/{reference}/documents", operations={"post": {
        "summary": "Add or replace documents while incomplete", "security": [{"applicantToken": []}],
        "parameters": [ref],
        "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object", "properties": files}}}},
        "responses": {"200": status_ok, **errors("401", "404", "409", "413", "415", "422")}}})
    spec.path("/api/v1/applications/{reference}/withdraw", operations={"post": {
        "summary": "Withdraw the application", "security": [{"applicantToken": []}], "parameters": [ref],
        "responses": {"200": status_ok, **errors("401", "404", "409")}}})
    spec.path("/api/v1/applications/{reference}/sign-out-everywhere", operations={"post": {
        "summary": "Revoke this token and every portal session of the application; answers the new token",
        "security": [{"applicantToken": []}], "parameters": [ref],
        "responses": {"200": {"description": "Every earlier token and session revoked", "content": json_content({
            "type": "object", "properties": {"reference": {"type": "string"}, "token": {"type": "string"}}})},
            **errors("401", "404", "410")}}})
    # intake-journey: the way back in ("find my application"); answered before any lookup, so always 202
    spec.components.schema("AccessLinkRequest", schema=AccessLinkRequestSchema)
    spec.path("/api/v1/access-links", operations={"post": {
        "summary": "Email expiring links to the applications sent from an address (the same answer for any address)",
        "requestBody": {"required": True, "content": json_content("AccessLinkRequest")},
        "responses": {"202": {"description": "Accepted", "content": json_content({
            "type": "object", "properties": {"message": {"type": "string"}}})}, **errors("400", "422", "429")}}})
    add_privacy_paths(spec)
    return spec.to_dict()


bp = openapi_blueprint(build_spec)
