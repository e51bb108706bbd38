"""A staff API call sent without a JSON body (or with one that does not parse) is told which fields to send."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("path, fields", [
    ("/api/v1/auth/token", {"email", "password"}),
    ("/api/v1/auth/refresh", {"refresh_token"}),
])
def test_a_sign_in_call_without_a_body_names_the_missing_fields(app, path, fields):
    client = app.test_client()
    for body in ({}, {"data": "not json", "content_type": "application/json"}):
        response = client.post(path, **body)
        assert response.status_code == 422
        assert set(response.get_json()["error"]["fields"]) == fields


def test_a_decision_call_without_a_body_names_the_missing_fields(app, api):
    response = app.test_client().post("/api/v1/decisions/bulk", headers=api)
    assert response.status_code == 422
    assert {"references", "decision", "reason_code"} <= set(response.get_json()["error"]["fields"])
