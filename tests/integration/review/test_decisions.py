"""Decisions: recorded and revisable until released; release publishes exactly one event."""
from __future__ import annotations

import json

from sqlalchemy import select

from services.review.audit.models import AuditEntry
from services.review.db import OUTBOX, db

from .conftest import bearer, csrf_token, deliver, login, status_changed, submitted, token_for  # noqa: F401


def decide(client, headers, reference, decision="shortlisted", **extra):
    return client.post(f"/api/v1/applications/{reference}/decision", headers=headers,
                       json={"decision": decision, **extra})


def release(client, headers, *references):
    return client.post("/api/v1/decisions/release", headers=headers, json={"references": list(references)})


def outbox_rows(app):
    with app.app_context():
        return db.session.execute(select(OUTBOX).where(OUTBOX.c.event_type == "decision.released")).all()


def test_record_then_revise_a_decision(app, api, under_review):
    under_review("NIP27-0401")
    client = app.test_client()
    first = decide(client, api, "NIP27-0401", "reserve", reason_code="limited_places", note="Strong, few places")
    assert first.status_code == 200
    assert first.get_json()["decision"] == "reserve" and first.get_json()["released"] is False
    revised = decide(client, api, "NIP27-0401", "shortlisted", reason_code="strong_profile")
    assert revised.status_code == 200
    body = client.get("/api/v1/applications/NIP27-0401", headers=api).get_json()
    assert body["decision"]["decision"] == "shortlisted"
    assert body["decision"]["reason_code"] == "strong_profile" and body["decision"]["note"] is None
    assert outbox_rows(app) == []


def test_release_publishes_one_decision_released_and_freezes_the_decision(app, api, under_review):
    under_review("NIP27-0402")
    client = app.test_client()
    decide(client, api, "NIP27-0402", "rejected", reason_code="insufficient_experience")
    response = release(client, api, "NIP27-0402", "NIP27-0402", "NIP27-9999")
    assert response.status_code == 200
    assert response.get_json() == {"released": ["NIP27-0402"],
                                   "skipped": [{"reference": "NIP27-9999", "reason": "no_decision"}]}
    rows = outbox_rows(app)
    assert len(rows) == 1
    assert rows[0].task == "intake.handle_event" and rows[0].queue == "intake.events"
    (event,) = json.loads(rows[0].body)
    assert event["data"] == {"reference": "NIP27-0402", "decision": "rejected",
                             "reason_code": "insufficient_experience", "released_by": "admin@example.org"}

    again = release(client, api, "NIP27-0402")
    assert again.get_json()["skipped"] == [{"reference": "NIP27-0402", "reason": "already_released"}]
    assert len(outbox_rows(app)) == 1
    revise = decide(client, api, "NIP27-0402", "shortlisted")
    assert revise.status_code == 409 and revise.get_json()["error"]["code"] == "already_released"
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.reference == "NIP27-0402")
                                     .order_by(AuditEntry.id)).all()
    assert actions == ["decision.recorded", "decision.released"]


def test_no_decision_unless_under_review(app, api, deliver):
    deliver(submitted("NIP27-0403"))
    response = decide(app.test_client(), api, "NIP27-0403")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "not_under_review"


def test_a_withdrawn_application_is_not_released(app, api, under_review, deliver):
    from datetime import timedelta
    from .conftest import T0
    under_review("NIP27-0404")
    client = app.test_client()
    decide(client, api, "NIP27-0404")
    deliver(status_changed("NIP27-0404", "withdrawn", old="under_review", at=T0 + timedelta(days=1)))
    assert release(client, api, "NIP27-0404").get_json()["skipped"] == [
        {"reference": "NIP27-0404", "reason": "not_under_review"}]
    assert outbox_rows(app) == []


def test_invalid_decision_is_422(app, api, under_review):
    under_review("NIP27-0405")
    response = decide(app.test_client(), api, "NIP27-0405", "maybe", reason_code="Not A Code!")
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"decision", "reason_code"}


def test_reviewers_decide_only_in_their_departments_and_never_release(app, admin, make_user, under_review):
    make_user("fin@example.org", departments=["finance"])
    under_review("NIP27-0406", departments=["finance"])
    under_review("NIP27-0407", departments=["it"])
    client = app.test_client()
    headers = bearer(token_for(client, "fin@example.org"))
    assert decide(client, headers, "NIP27-0406").status_code == 200
    assert decide(client, headers, "NIP27-0407").status_code == 404
    assert release(client, headers, "NIP27-0406").status_code == 403
    assert outbox_rows(app) == []


def test_decision_form_records_and_admin_confirms_release(app, admin, under_review):
    under_review("NIP27-0408")
    client = app.test_client()
    login(client, admin)
    page = client.get("/applications/NIP27-0408").get_data(as_text=True)
    response = client.post("/applications/NIP27-0408/decision", data={
        "csrf_token": csrf_token(page), "decision": "shortlisted", "reason_code": "strong_profile", "note": ""},
        follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Decision recorded: shortlisted" in html and "Recorded:" in html
    assert "Release the decision" in html

    confirm = client.get("/applications/NIP27-0408/release")
    assert "Yes, release it" in confirm.get_data(as_text=True)
    assert outbox_rows(app) == []
    done = client.post("/applications/NIP27-0408/release",
                       data={"csrf_token": csrf_token(confirm.get_data(as_text=True))}, follow_redirects=True)
    assert "Decision released: shortlisted" in done.get_data(as_text=True)
    assert len(outbox_rows(app)) == 1


def test_decision_form_without_csrf_token_records_nothing(app, admin, under_review):
    under_review("NIP27-0409")
    client = app.test_client()
    login(client, admin)
    response = client.post("/applications/NIP27-0409/decision", data={"decision": "rejected"})
    assert response.status_code == 400
    assert "No decision recorded." in client.get("/applications/NIP27-0409").get_data(as_text=True)
