"""Decisions: recorded and revisable until released; release publishes exactly one event."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from services.review.audit.models import AuditEntry
from services.review.db import OUTBOX, db
from services.review.decisions.models import Decision

from .conftest import bearer, csrf_token, login, status_changed, submitted, token_for  # noqa: F401


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


@pytest.mark.parametrize("role", ["reviewer", "coordinator"])
def test_only_admins_record_decisions_a_staff_member_cannot_overwrite_one(app, api, make_user, under_review, role):
    make_user("staff@example.org", role=role, departments=["it"])
    under_review("NIP27-0406", departments=["it"])
    client = app.test_client()
    assert decide(client, api, "NIP27-0406", "shortlisted").status_code == 200
    headers = bearer(token_for(client, "staff@example.org"))
    attack = decide(client, headers, "NIP27-0406", "rejected")
    assert attack.status_code == 403 and attack.get_json()["error"]["code"] == "forbidden"
    assert release(client, headers, "NIP27-0406").status_code == 403
    assert outbox_rows(app) == []

    release(client, api, "NIP27-0406")
    (row,) = outbox_rows(app)
    (event,) = json.loads(row.body)
    assert event["data"]["decision"] == "shortlisted"


@pytest.mark.parametrize("role", ["reviewer", "coordinator"])
def test_reviewers_and_coordinators_cannot_decide_or_release_through_the_pages(app, admin, make_user,
                                                                               under_review, role):
    make_user("staff@example.org", role=role, departments=["it"])
    under_review("NIP27-0410", departments=["it"])
    admin_client = app.test_client()
    decide(admin_client, bearer(token_for(admin_client, admin)), "NIP27-0410", "shortlisted")
    client = app.test_client()
    login(client, "staff@example.org")
    page = client.get("/applications/NIP27-0410").get_data(as_text=True)
    assert "Record the decision" not in page and "Save the revised decision" not in page
    token = csrf_token(page)
    attack = client.post("/applications/NIP27-0410/decision",
                         data={"csrf_token": token, "decision": "rejected", "reason_code": "", "note": ""})
    assert attack.status_code == 403
    assert client.get("/applications/NIP27-0410/release").status_code == 403
    assert client.post("/applications/NIP27-0410/release",
                       data={"csrf_token": token, "version": "1"}).status_code == 403
    with app.app_context():
        decision = db.session.scalar(select(Decision).where(Decision.reference == "NIP27-0410"))
        assert (decision.decision, decision.version, decision.released) == ("shortlisted", 1, False)
    assert outbox_rows(app) == []


def test_each_revision_raises_the_version(app, api, under_review):
    under_review("NIP27-0411")
    client = app.test_client()
    assert decide(client, api, "NIP27-0411", "reserve").get_json()["version"] == 1
    assert decide(client, api, "NIP27-0411", "shortlisted").get_json()["version"] == 2
    body = client.get("/api/v1/applications/NIP27-0411", headers=api).get_json()
    assert body["decision"]["version"] == 2


def test_a_decision_changed_after_confirmation_is_not_released_and_is_reported(app, api, under_review):
    under_review("NIP27-0412")
    under_review("NIP27-0413")
    client = app.test_client()
    decide(client, api, "NIP27-0412", "shortlisted")
    decide(client, api, "NIP27-0413", "reserve")
    confirmed = [{"reference": "NIP27-0412", "version": 1}, {"reference": "NIP27-0413", "version": 1}]
    decide(client, api, "NIP27-0412", "rejected")  # someone changes it after the admin confirmed

    response = client.post("/api/v1/decisions/release", headers=api, json={"decisions": confirmed})
    assert response.status_code == 200
    assert response.get_json() == {"released": ["NIP27-0413"],
                                   "skipped": [{"reference": "NIP27-0412", "reason": "changed"}]}
    assert [json.loads(r.body)[0]["data"]["reference"] for r in outbox_rows(app)] == ["NIP27-0413"]

    again = client.post("/api/v1/decisions/release", headers=api,
                        json={"decisions": [{"reference": "NIP27-0412", "version": 2}]})
    assert again.get_json()["released"] == ["NIP27-0412"]
    assert json.loads(outbox_rows(app)[-1].body)[0]["data"]["decision"] == "rejected"


@pytest.mark.parametrize("body", [{}, {"references": []}, {"decisions": [{"reference": "NIP27-0001"}]},
                                  {"decisions": [{"reference": "NIP27-0001", "version": "1"}]},
                                  {"decisions": [{"reference": "NIP27-0001", "version": 0}]},
                                  {"references": ["x"] * 600, "decisions": [{"reference": "y", "version": 1}] * 600}])
def test_invalid_release_requests_are_422(app, api, body):
    response = app.test_client().post("/api/v1/decisions/release", headers=api, json=body)
    assert response.status_code == 422
    assert outbox_rows(app) == []


def test_release_page_releases_nothing_when_the_decision_changed_after_the_page_was_shown(app, admin, under_review):
    under_review("NIP27-0414")
    client = app.test_client()
    login(client, admin)
    headers = bearer(token_for(app.test_client(), admin))
    decide(app.test_client(), headers, "NIP27-0414", "shortlisted")
    confirm = client.get("/applications/NIP27-0414/release").get_data(as_text=True)
    assert re.search(r'name="version"[^>]*value="1"', confirm) or re.search(r'value="1"[^>]*name="version"', confirm)
    decide(app.test_client(), headers, "NIP27-0414", "rejected")

    done = client.post("/applications/NIP27-0414/release", data={"csrf_token": csrf_token(confirm), "version": "1"},
                       follow_redirects=True)
    assert "Nothing released: the decision was changed after you confirmed it" in done.get_data(as_text=True)
    assert outbox_rows(app) == []
    missing = client.post("/applications/NIP27-0414/release", data={"csrf_token": csrf_token(confirm)},
                          follow_redirects=True)
    assert "The confirmed version is missing" in missing.get_data(as_text=True)
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
                       data={"csrf_token": csrf_token(confirm.get_data(as_text=True)), "version": "1"},
                       follow_redirects=True)
    assert "Decision released: shortlisted" in done.get_data(as_text=True)
    assert len(outbox_rows(app)) == 1


def test_decision_form_without_csrf_token_records_nothing(app, admin, under_review):
    under_review("NIP27-0409")
    client = app.test_client()
    login(client, admin)
    response = client.post("/applications/NIP27-0409/decision", data={"decision": "rejected"})
    assert response.status_code == 400
    assert "No decision recorded." in client.get("/applications/NIP27-0409").get_data(as_text=True)


def test_release_checks_the_locked_row_not_a_copy_read_earlier_in_the_request(settings):
    """An admin's confirmation page read version 1; another admin commits version 2 before the release
    locks the row: the release must see version 2 and send nothing."""
    import dataclasses

    from sqlalchemy.orm import Session

    from services.review import create_app
    from services.review.accounts.service import create_user
    from services.review.applications.tasks import handle_event
    from services.review.decisions import service
    from tests.conftest import migrated_database

    from .conftest import status_changed, submitted

    app = create_app(dataclasses.replace(settings, review_database_url=migrated_database("review", "_race")))
    with app.app_context():
        office = create_user(session=db.session, email="office@example.org", password="a long enough password",
                             role="admin").identity()
        other = create_user(session=db.session, email="other@example.org", password="a long enough password",
                            role="admin").identity()
        db.session.commit()
        handle_event(submitted("NIP27-0420"))
        handle_event(status_changed("NIP27-0420", "under_review"))
        service.record_decision(session=db.session, staff=office, reference="NIP27-0420", decision="shortlisted")
        db.session.commit()

        seen = service.decision_for(session=db.session, reference="NIP27-0420")  # the confirmation page
        assert seen.version == 1
        with Session(db.engine) as elsewhere:
            service.record_decision(session=elsewhere, staff=other, reference="NIP27-0420", decision="rejected")
            elsewhere.commit()

        released, skipped = service.release_decisions(session=db.session, staff=office, references=["NIP27-0420"],
                                                      versions={"NIP27-0420": 1})
        db.session.commit()
    assert released == [] and skipped == [{"reference": "NIP27-0420", "reason": "changed"}]
    assert outbox_rows(app) == []
