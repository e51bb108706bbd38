"""The applicant's data-protection endpoints in intake's `/openapi.json`."""
from apispec import APISpec

from shared.openapi import errors, json_content, path_parameter

ZIP = {"description": "application.json, documents/ as uploaded, dossier.pdf, history.json, access_log.json",
       "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}


def add_paths(spec: APISpec) -> None:
    ref = path_parameter("reference")
    token: list[dict[str, list[str]]] = [{"applicantToken": []}]
    spec.path("/api/v1/applications/{reference}/export", operations={"get": {
        "summary": "Everything held about the applicant, as one zip", "security": token, "parameters": [ref],
        "responses": {"200": ZIP, **errors("401", "404", "410", "503")}}})
    spec.path("/api/v1/applications/{reference}/erasure-request", operations={"post": {
        "summary": "Email the applicant a link to confirm the erasure of their data", "security": token,
        "parameters": [ref],
        "responses": {"202": {"description": "Confirmation link sent", "content": json_content({
            "type": "object", "properties": {"reference": {"type": "string"}, "status": {"type": "string"}}})},
            **errors("401", "404", "410")}}})
