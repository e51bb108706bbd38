"""`/openapi.json`: the applicants' API, described from its marshmallow schemas."""
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint

from services.intake.applications.schemas import ApplicationSchema, ApplicationStatusSchema
from services.intake.programme.schemas import ProgrammeSchema

bp = Blueprint("openapi", __name__)

_ERROR = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def build_spec() -> dict:
    spec = APISpec(title="NIP intake API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()])
    spec.components.schema("Application", schema=ApplicationSchema)
    spec.components.schema("ApplicationStatus", schema=ApplicationStatusSchema)
    spec.components.schema("Programme", schema=ProgrammeSchema)
    spec.components.schema("Error", {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "fields": {"type": "object"},
        "reasons": {"type": "object", "description": "Per refused document (by part name), its reason code",
                    "additionalProperties": {"type": "string"}}}}}})
    spec.components.security_scheme("applicantToken", {"type": "http", "scheme": "bearer"})
    ref = {"name": "reference", "in": "path", "required": True, "schema": {"type": "string"}}
    status_ok = {"description": "The application as its applicant sees it",
                 "content": {"application/json": {"schema": "ApplicationStatus"}}}
    files = {"cv": {"type": "string", "format": "binary"},
             "academic_proof": {"type": "string", "format": "binary"},
             "language_certificate": {"type": "string", "format": "binary"}}
    spec.path("/api/v1/programme", operations={"get": {"summary": "The open call", "responses": {
        "200": {"description": "The call", "content": {"application/json": {"schema": "Programme"}}},
        "404": _ERROR}}})
    spec.path("/api/v1/applications", operations={"post": {
        "summary": "Submit an application",
        "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 200}}],
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["application", "cv", "academic_proof"],
            "properties": {"application": {"type": "string", "description": "Application JSON"}, **files}}}}},
        "responses": {"201": {"description": "Submitted", "content": {"application/json": {"schema": {
            "type": "object", "properties": {k: {"type": "string"} for k in
                                             ("reference", "status", "status_url", "token")}}}}},
            **{code: _ERROR for code in ("400", "409", "413", "415", "422")}}}})
    spec.path("/api/v1/applications/{reference}", operations={"get": {
        "summary": "Status, history and problems", "security": [{"applicantToken": []}], "parameters": [ref],
        "responses": {"200": status_ok, "401": _ERROR, "404": _ERROR}}})
    spec.path("/api/v1/applications/{reference}/documents", operations={"post": {
        "summary": "Add or replace documents while incomplete", "security": [{"applicantToken": []}],
        "parameters": [ref],
        "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object", "properties": files}}}},
        "responses": {"200": status_ok, **{c: _ERROR for c in ("401", "404", "409", "413", "415", "422")}}}})
    spec.path("/api/v1/applications/{reference}/withdraw", operations={"post": {
        "summary": "Withdraw the application", "security": [{"applicantToken": []}], "parameters": [ref],
        "responses": {"200": status_ok, **{c: _ERROR for c in ("401", "404", "409")}}}})
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi():
    return build_spec()
