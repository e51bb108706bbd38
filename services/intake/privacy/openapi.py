"""The applicant's data-protection endpoints in intake's `/openapi.json`."""
from typing import Callable

from apispec import APISpec

from services.intake.privacy.schemas import ErasureRequestedSchema
from shared.openapi import json_content

ZIP = {"description": "application.json, documents/ as uploaded, dossier.pdf, history.json, access_log.json",
       "headers": {"Content-Disposition": {"schema": {"type": "string"},
                                           "description": 'attachment; filename="<reference>-my-data.zip"'}},
       "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}


def add_paths(spec: APISpec, *, reference: dict, token: list[dict[str, list[str]]],
              refusals: Callable[..., dict]) -> None:
    spec.components.schema("ErasureRequested", schema=ErasureRequestedSchema)
    spec.path("/api/v1/applications/{reference}/export", operations={"get": {
        "operationId": "exportApplication", "summary": "Everything held about the applicant, as one zip",
        "security": token, "parameters": [reference],
        "responses": {"200": ZIP, **refusals("401", "404", "410")}}})
    spec.path("/api/v1/applications/{reference}/erasure-request", operations={"post": {
        "operationId": "requestErasure", "summary": "Email the applicant a link to confirm the erasure of their data",
        "security": token, "parameters": [reference],
        "responses": {"202": {"description": "Confirmation link sent", "content": json_content("ErasureRequested")},
                      **refusals("401", "404", "410")}}})
