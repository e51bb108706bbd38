"""`GET /api/v1/notifications`: the delivery log staff can read."""
from datetime import timedelta

import pytest

from services.notify.db import db
from services.notify.deliveries.models import Delivery
from services.notify.deliveries.tasks import handle_event
from shared.auth import StaffIdentity, issue_staff_token
from shared.db import utcnow
from shared.keys import generate_signing_key

ROW_FIELDS = {"id", "event_id", "reference", "kind", "template", "recipient", "language", "state", "attempts",
              "last_error", "next_attempt_at", "created_at", "sent_at"}


@pytest.fixture
def three_emails(app, mail_server, status_changed):
    """Three status changes, sent one minute apart: two for one application, one for another."""
    events = [status_changed(reference="NIP27-AAAA01", new="submitted"),
              status_changed(reference="NIP27-BBBB02", new="submitted", language="fr"),
              status_changed(reference="NIP27-AAAA01", new="under_review", old="checking")]
    start = utcnow() - timedelta(minutes=10)
    for minute, event in enumerate(events):
        handle_event.run(event)
        db.session.query(Delivery).filter_by(event_id=event["id"]).update(
            {"created_at": start + timedelta(minutes=minute)})
    db.session.commit()
    return events


def test_log_needs_a_staff_token(client):
    response = client.get("/api/v1/notifications")

    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("authorization", [
    "Bearer not-a-token",
    "Basic b2ZmaWNlOnNlY3JldA==",
    "Bearer " + issue_staff_token(generate_signing_key(), StaffIdentity(1, "x@example.org", "admin", ())),
])
def test_log_refuses_forged_or_foreign_tokens(client, authorization):
    response = client.get("/api/v1/notifications", headers={"Authorization": authorization})

    assert response.status_code == 401
    assert set(response.json["error"]) == {"code", "message", "fields"}


def test_log_lists_every_email_newest_first(client, staff_headers, three_emails):
    response = client.get("/api/v1/notifications", headers=staff_headers)

    assert response.status_code == 200
    body = response.json
    assert (body["page"], body["per_page"], body["total"]) == (1, 20, 3)
    assert [row["event_id"] for row in body["items"]] == [e["id"] for e in reversed(three_emails)]
    newest = body["items"][0]
    assert set(newest) == ROW_FIELDS
    assert newest["template"] == "under_review/en"
    assert newest["recipient"] == "zoe.lefevre@example.org"
    assert (newest["state"], newest["attempts"], newest["last_error"]) == ("sent", 1, None)
    assert newest["sent_at"] is not None
    assert body["items"][1]["language"] == "fr"


def test_log_filters_by_reference(client, staff_headers, three_emails):
    response = client.get("/api/v1/notifications?reference=NIP27-AAAA01", headers=staff_headers)

    assert response.json["total"] == 2
    assert {row["reference"] for row in response.json["items"]} == {"NIP27-AAAA01"}
    assert [row["template"] for row in response.json["items"]] == ["under_review/en", "submitted/en"]


def test_log_is_paginated(client, staff_headers, three_emails):
    first = client.get("/api/v1/notifications?per_page=2", headers=staff_headers).json
    second = client.get("/api/v1/notifications?per_page=2&page=2", headers=staff_headers).json

    assert [len(first["items"]), len(second["items"])] == [2, 1]
    assert (second["page"], second["per_page"], second["total"]) == (2, 2, 3)
    assert second["items"][0]["event_id"] == three_emails[0]["id"]


@pytest.mark.parametrize("query, field", [
    ("per_page=101", "per_page"), ("page=0", "page"), ("page=two", "page"), ("page=-1", "page"),
    ("page=10001", "page"), ("page=99999999999999999999", "page"), ("page=" + "9" * 5000, "page"),
    ("page=1.5", "page"), ("page=%C2%B2", "page"), ("reference=NIP27-%C3%A9", "reference"),
    ("reference=" + "A" * 65, "reference"),
])
def test_log_rejects_bad_paging_with_a_precise_error(client, staff_headers, query, field):
    response = client.get(f"/api/v1/notifications?{query}", headers=staff_headers)

    assert response.status_code == 422
    assert set(response.json["error"]) == {"code", "message", "fields"}
    assert field in response.json["error"]["fields"]


@pytest.mark.parametrize("query, field", [("reference=%00", "reference"), ("reference=NIP27-%00", "reference"),
                                          ("per_page=%00", "per_page"), ("page=1%00", "page")])
def test_log_refuses_nul_characters_before_they_reach_the_database(client, staff_headers, query, field):
    response = client.get(f"/api/v1/notifications?{query}", headers=staff_headers)

    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_characters"
    assert field in response.json["error"]["fields"]


def test_log_accepts_the_last_allowed_page(client, staff_headers, three_emails):
    response = client.get("/api/v1/notifications?page=10000", headers=staff_headers)

    assert response.status_code == 200
    assert (response.json["page"], response.json["items"], response.json["total"]) == (10000, [], 3)


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"]["database"] == "ok"
    assert b"http_requests_total" in client.get("/metrics", headers={"Authorization": f"Bearer {client.application.config['SETTINGS'].metrics_token}"}).data


BEYOND_ANY_ID = ("12345678901234567890123", str(2**63), "0")


@pytest.mark.parametrize("delivery_id", BEYOND_ANY_ID + ("-1", "1.5", "x"))
def test_resend_of_an_id_no_column_can_hold_is_a_json_404(client, staff_headers, delivery_id):
    response = client.post(f"/api/v1/notifications/{delivery_id}/resend", json={}, headers=staff_headers)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("delivery_id", [2**31, 2**63 - 1])
def test_resend_of_a_64_bit_id_past_the_postgresql_integer_column_is_not_found(client, staff_headers, delivery_id):
    response = client.post(f"/api/v1/notifications/{delivery_id}/resend", json={}, headers=staff_headers)
    assert (response.status_code, response.get_json()["error"]["code"]) == (404, "not_found")


def test_resend_on_sqlite_refuses_ids_past_64_bits_with_a_404(notify_settings, staff_headers, tmp_path):
    import dataclasses

    from services.notify import create_app
    from shared.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'notify-bounds.db'}"
    upgrade("notify", url)
    client = create_app(dataclasses.replace(notify_settings, notify_database_url=url)).test_client()
    for delivery_id in (*BEYOND_ANY_ID, 2**63 - 1):
        response = client.post(f"/api/v1/notifications/{delivery_id}/resend", json={}, headers=staff_headers)
        assert (response.status_code, response.get_json()["error"]["code"]) == (404, "not_found"), delivery_id


@pytest.mark.parametrize("body", [b"[]", b"false", b"not json"])
def test_resend_refuses_a_body_that_is_not_a_json_object(client, staff_headers, body):
    response = client.post("/api/v1/notifications/1/resend", data=body, headers={
        **staff_headers, "Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    assert response.get_json()["error"]["code"] in ("invalid_json", "invalid_fields")


@pytest.mark.parametrize("query", ["page=%201", "page=1_000", "per_page=%2B5", "reference=NIP27-AAAA01%0A"])
def test_log_refuses_what_int_or_a_python_regex_would_take_but_the_spec_does_not(client, staff_headers, query):
    response = client.get(f"/api/v1/notifications?{query}", headers=staff_headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_fields"
