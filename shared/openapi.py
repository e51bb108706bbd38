"""`/openapi.json` for every service: the spec skeleton (error shape, bearer scheme) they share.

Each service describes its own paths from its marshmallow schemas; this module keeps the parts that
must read the same everywhere, so a client sees one error shape and one way to authenticate.
"""
from __future__ import annotations

from typing import Callable

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint

ERROR_RESPONSE = {"description": "Error",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def new_spec(*, title: str, security_scheme: str, error_properties: dict | None = None) -> APISpec:
    """An OpenAPI 3 spec with the shared error shape and a bearer scheme named `security_scheme`."""
    spec = APISpec(title=title, version="1.0.0", openapi_version="3.0.3", plugins=[MarshmallowPlugin()])
    spec.components.schema("Error", {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"},
            "fields": {"type": "object", "description": "Per invalid field, its messages"},
            **(error_properties or {})}}}})
    spec.components.security_scheme(security_scheme, {"type": "http", "scheme": "bearer"})
    return spec


def errors(*codes: str) -> dict:
    """The error responses of an operation, all of the shared shape."""
    return {code: ERROR_RESPONSE for code in codes}


def json_content(schema) -> dict:
    """A JSON body: a marshmallow schema (class, instance or component name) or a plain JSON schema."""
    return {"application/json": {"schema": schema}}


def path_parameter(name: str, type_: str = "string") -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": type_}}


def openapi_blueprint(build_spec: Callable[[], dict]) -> Blueprint:
    """A blueprint serving `GET /openapi.json` from `build_spec`, built once per process (it never changes)."""
    bp = Blueprint("openapi", __name__)
    cache: dict = {}

    @bp.get("/openapi.json")
    def openapi():
        if "spec" not in cache:
            cache["spec"] = build_spec()
        return cache["spec"]

    return bp
