"""The admins' data-protection endpoints in review's `/openapi.json`."""
from apispec import APISpec

from shared.openapi import errors, json_content, path_parameter

STAFF: list[dict[str, list[str]]] = [{"staffToken": []}]
UPSTREAM = ("401", "403", "404", "410", "422", "503")


def add_paths(spec: APISpec) -> None:
    reference = path_parameter("reference")
    spec.path("/api/v1/applications/{reference}/erase", operations={"post": {
        "summary": "Erase the applicant's personal data in every service (admins; audited)", "security": STAFF,
        "parameters": [reference],
        "requestBody": {"required": True, "content": json_content({
            "type": "object", "required": ["reason"],
            "properties": {"reason": {"type": "string", "minLength": 3, "maxLength": 500}}})},
        "responses": {"200": {"description": "Erased (also when it was before)", "content": json_content({
            "type": "object", "properties": {k: {"type": "string"} for k in
                                             ("reference", "status", "final_status", "erased_at")}})},
            **errors(*UPSTREAM)}}})
    spec.path("/api/v1/applications/{reference}/export", operations={"get": {
        "summary": "The applicant's data as one zip, with who viewed it (admins; audited)", "security": STAFF,
        "parameters": [reference],
        "responses": {"200": {"description": "The zip", "content": {"application/zip": {
            "schema": {"type": "string", "format": "binary"}}}}, **errors(*UPSTREAM)}}})
    spec.path("/api/v1/statistics", operations={"get": {
        "summary": "Anonymous counts of the call (erased applications included) (admins)", "security": STAFF,
        "parameters": [{"name": "call", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": {"description": "Counts per department, status, session, nationality, education level",
                              "content": json_content({"type": "object"})}, **errors("401", "403", "404", "503")}}})
