"""`/openapi.json`: the applicants' API, described from its marshmallow schemas.

Every operation lists every status it can answer; every parameter is bounded as the view bounds it (the
reference's shape, the token's and the Idempotency-Key's length and characters), so a client, and a fuzzer,
learn the limits from the spec. `tests/contract/test_intake_api.py` holds intake's answers against it.
"""
from services.intake.access.schemas import AccessLinkRequestSchema, AccessLinksAcceptedSchema
from services.intake.applications.schemas import (ApplicationSchema, ApplicationStatusSchema, SignedOutSchema,
                                                  SubmittedSchema)
from services.intake.applications.service import REFERENCE_MAX_LENGTH, REFERENCE_PATTERN
from services.intake.applications.views import MAX_IDEMPOTENCY_KEY_LENGTH
from services.intake.programme.schemas import ProgrammeSchema
from services.intake.privacy.openapi import add_paths as add_privacy_paths
from shared.openapi import errors, json_content, new_spec, openapi_blueprint

APPLICANT_TOKEN: list[dict[str, list[str]]] = [{"applicantToken": []}]
# a path that is not an application's reference is answered like a wrong token (404), never looked up
REFERENCE = {"name": "reference", "in": "path", "required": True,
             "description": "The application's reference, as the submission answered it",
             "schema": {"type": "string", "pattern": REFERENCE_PATTERN, "maxLength": REFERENCE_MAX_LENGTH,
                        "example": "NIP27-QR47-C4WN"}}
TOO_MANY = {"description": "Over the per-client limit (`too_many_requests`); try again after `Retry-After` seconds",
            "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}},
            "content": json_content({"$ref": "#/components/schemas/Error"})}
# while a database connection is cut mid-request: nothing was committed, a retry is safe
UNAVAILABLE = {"description": "`database_unavailable` (or, for the export, review's access log cannot be read); "
                              "retry after `Retry-After` seconds",
               "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}},
               "content": json_content({"$ref": "#/components/schemas/Error"})}
# from a 201, the routes behind the reference it answered (the applicant's token goes in Authorization)
REFERENCE_LINKS = {name: {"operationId": operation, "parameters": {"reference": "$response.body#/reference"}}
                   for name, operation in (("GetStatus", "getApplication"), ("AddDocuments", "addDocuments"),
                                           ("Withdraw", "withdrawApplication"), ("SignOutEverywhere", "signOutEverywhere"),
                                           ("Export", "exportApplication"), ("RequestErasure", "requestErasure"))}


def refusals(*codes: str, limited: bool = False) -> dict:
    """The error answers of an operation: the shared error shape (400 for any, since a NUL or other control
    character in the address is `invalid_characters`), 429 and 503 with their Retry-After."""
    return {**errors(*sorted({"400", *codes})), **({"429": TOO_MANY} if limited else {}), "503": UNAVAILABLE}


def build_spec() -> dict:
    spec = new_spec(title="NIP intake API", security_scheme="applicantToken", error_properties={
        "reasons": {"type": "object", "description": "Per refused document (by part name), its reason code",
                    "additionalProperties": {"type": "string"}}})
    for name, schema in (("Application", ApplicationSchema), ("ApplicationStatus", ApplicationStatusSchema),
                         ("Programme", ProgrammeSchema), ("Submitted", SubmittedSchema),
                         ("SignedOut", SignedOutSchema), ("AccessLinkRequest", AccessLinkRequestSchema),
                         ("AccessLinksAccepted", AccessLinksAcceptedSchema)):
        spec.components.schema(name, schema=schema)
    status_ok = {"description": "The application as its applicant sees it",
                 "content": json_content("ApplicationStatus")}
    files = {"cv": {"type": "string", "format": "binary", "description": "PDF or DOCX"},
             "academic_proof": {"type": "string", "format": "binary", "description": "PDF"},
             "language_certificate": {"type": "string", "format": "binary", "description": "PDF"}}
    spec.path("/api/v1/programme", operations={"get": {
        "operationId": "getProgramme", "summary": "The open call", "responses": {
            "200": {"description": "The call", "content": json_content("Programme")},
            **refusals("404")}}})
    spec.path("/api/v1/applications", operations={"post": {
        "operationId": "submitApplication", "summary": "Submit an application",
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                        "description": "A replay with the same key and body gets the first answer",
                        "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH,
                                   "pattern": "^[ -~]*$"}}],
        "requestBody": {"required": True, "content": {"multipart/form-data": {
            "schema": {"type": "object", "required": ["application", "cv", "academic_proof"],
                       "properties": {"application": {"$ref": "#/components/schemas/Application"}, **files}},
            "encoding": {"application": {"contentType": "application/json"}}}}},
        "responses": {"201": {
            "description": "Submitted (a person who already applied gets the same answer, and a token that opens "
                           "nothing); `Idempotent-Replayed` says whether it answers an earlier request",
            "headers": {"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true", "false"]}}},
            "content": json_content("Submitted"), "links": REFERENCE_LINKS},
            **refusals("400", "409", "413", "415", "422", limited=True)}}})
    spec.path("/api/v1/applications/{reference}", operations={"get": {
        "operationId": "getApplication", "summary": "Status, history and problems", "security": APPLICANT_TOKEN,
        "parameters": [REFERENCE],
        "responses": {"200": status_ok, **refusals("401", "404", "410", limited=True)}}})
    spec.path("/api/v1/applications/{reference}/documents", operations={"post": {
        "operationId": "addDocuments", "summary": "Add or replace documents while incomplete",
        "security": APPLICANT_TOKEN, "parameters": [REFERENCE],
        "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object", "properties": files}}}},
        "responses": {"200": status_ok, **refusals("401", "404", "409", "410", "413", "415", "422")}}})
    spec.path("/api/v1/applications/{reference}/withdraw", operations={"post": {
        "operationId": "withdrawApplication", "summary": "Withdraw the application; the token then opens nothing",
        "security": APPLICANT_TOKEN, "parameters": [REFERENCE],
        "responses": {"200": status_ok, **refusals("401", "404", "409", "410")}}})
    spec.path("/api/v1/applications/{reference}/sign-out-everywhere", operations={"post": {
        "operationId": "signOutEverywhere",
        "summary": "Revoke this token and every portal session of the application; answers the new token",
        "security": APPLICANT_TOKEN, "parameters": [REFERENCE],
        "responses": {"200": {"description": "Every earlier token and session revoked",
                              "content": json_content("SignedOut")},
                      **refusals("401", "404", "410")}}})
    # intake-journey: the way back in ("find my application"); answered before any lookup, so always 202
    spec.path("/api/v1/access-links", operations={"post": {
        "operationId": "requestAccessLinks",
        "summary": "Email expiring links to the applications sent from an address (the same answer for any address)",
        "requestBody": {"required": True, "content": json_content("AccessLinkRequest")},
        "responses": {"202": {"description": "Accepted", "content": json_content("AccessLinksAccepted")},
                      **refusals("400", "413", "422", limited=True)}}})
    add_privacy_paths(spec, reference=REFERENCE, token=APPLICANT_TOKEN, refusals=refusals)
    return spec.to_dict()


bp = openapi_blueprint(build_spec)
