"""Decisions at season scale: one decision for many applications, and releasing a whole list at once."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from shared.events import sign_event
from services.review.audit.models import AuditEntry
from services.review.db import OUTBOX, db
from services.review.decisions.models import Decision

from .conftest import ADMIN, T0, bearer, csrf_token, signed_in, status_changed, submitted, token_for


def released_events(app) -> list[dict]:
    with app.app_context():
        rows = db.session.execute(select(OUTBOX.c.body).where(OUTBOX.c.event_type == "decision.released")).all()
    return [json.loads(body)[0]["data"] for (body,) in rows]


def decisions(app) -> dict[str, tuple[str, str | None, int]]:
    with app.app_context():
        return {d.reference: (d.decision, d.reason_code, d.version)
                for d in db.session.scalars(select(Decision))}


@pytest.fixture
def french_candidate(deliver):
    def _make(reference: str, *, departments=("it",)):
        event = submitted(reference, departments=departments)
        event["data"]["applicant"]["correspondence_language"] = "fr"
        sign_event(event)  # signed again after the change, as its producer would have
        deliver(event, status_changed(reference, "under_review", at=T0.replace(minute=5)))
        return reference
    return _make


def bulk(client, headers, references, decision="rejected", reason_code="limited_places", **extra):
    return client.post("/api/v1/decisions/bulk", headers=headers,
                       json={"references": references, "decision": decision, "reason_code": reason_code, **extra})


def test_one_decision_for_many_with_a_result_per_row(app, api, deliver, under_review):
    under_review("NIP27-0501")
    under_review("NIP27-0502")
    deliver(submitted("NIP27-0503"))  # not under review yet
    response = bulk(app.test_client(), api, ["NIP27-0501", "NIP27-0502", "NIP27-0503", "NIP27-9999", "NIP27-0501"],
                    note="Season cut-off")
    assert response.status_code == 200
    body = response.get_json()
    assert body["recorded"] == 2
    by_reference = {r["reference"]: r for r in body["results"]}
    assert list(by_reference) == ["NIP27-0501", "NIP27-0502", "NIP27-0503", "NIP27-9999"]
    assert by_reference["NIP27-0501"]["recorded"] and by_reference["NIP27-0501"]["version"] == 1
    assert by_reference["NIP27-0503"]["code"] == "not_under_review"
    assert by_reference["NIP27-9999"]["code"] == "not_found"
    assert decisions(app) == {"NIP27-0501": ("rejected", "limited_places", 1),
                              "NIP27-0502": ("rejected", "limited_places", 1)}
    assert released_events(app) == []
    with app.app_context():
        audited = db.session.scalars(select(AuditEntry.reference).where(AuditEntry.action == "decision.recorded")).all()
    assert sorted(audited) == ["NIP27-0501", "NIP27-0502"]


def test_bulk_needs_a_reason_and_at_most_a_thousand(app, api):
    client = app.test_client()
    missing = client.post("/api/v1/decisions/bulk", headers=api, json={"references": ["NIP27-0001"],
                                                                        "decision": "shortlisted"})
    assert missing.status_code == 422 and "reason_code" in missing.get_json()["error"]["fields"]
    too_many = bulk(client, api, [f"NIP27-{n:05d}" for n in range(1001)])
    assert too_many.status_code == 422 and "references" in too_many.get_json()["error"]["fields"]
    assert bulk(client, api, []).status_code == 422


@pytest.mark.parametrize("role", ["reviewer", "coordinator"])
def test_only_admins_decide_in_bulk_or_release(app, admin, make_user, under_review, role):
    make_user(f"{role}@example.org", role=role, departments=["it"])
    under_review("NIP27-0511")
    client = app.test_client()
    headers = bearer(token_for(client, f"{role}@example.org"))
    assert bulk(client, headers, ["NIP27-0511"]).status_code == 403
    assert client.get("/api/v1/decisions/releasable", headers=headers).status_code == 403
    browser = signed_in(app, f"{role}@example.org")
    token = csrf_token(browser.get("/applications").get_data(as_text=True))
    page = browser.post("/decisions/bulk", data={"csrf_token": token, "references": ["NIP27-0511"],
                                                 "decision": "rejected", "reason_code": "other"})
    assert page.status_code == 403
    assert browser.get("/decisions/release?department=it").status_code == 403
    assert browser.post("/decisions/release", data={"csrf_token": token, "decisions": ["NIP27-0511:1"]}).status_code == 403
    assert decisions(app) == {} and released_events(app) == []


def test_bulk_from_the_list_page(app, admin, under_review):
    under_review("NIP27-0521")
    under_review("NIP27-0522")
    browser = signed_in(app, admin)
    page = browser.get("/applications?department=it").get_data(as_text=True)
    form = {"references": ["NIP27-0521", "NIP27-0522"], "decision": "shortlisted",
            "reason_code": "strong_profile", "note": "", "view": "department=it"}
    assert browser.post("/decisions/bulk", data=form).status_code == 400  # no CSRF token
    response = browser.post("/decisions/bulk", data={**form, "csrf_token": csrf_token(page)})
    assert response.status_code == 302 and response.headers["Location"] == "/applications?department=it"
    shown = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Decision shortlisted recorded for 2 applications" in shown
    assert decisions(app) == {"NIP27-0521": ("shortlisted", "strong_profile", 1),
                              "NIP27-0522": ("shortlisted", "strong_profile", 1)}


def test_release_a_department_after_a_confirmation_that_counts_languages(app, api, admin, under_review,
                                                                          french_candidate):
    under_review("NIP27-0531", departments=["it"])
    french_candidate("NIP27-0532", departments=["it"])
    french_candidate("NIP27-0533", departments=["it"])
    under_review("NIP27-0534", departments=["hr"])
    client = app.test_client()
    bulk(client, api, ["NIP27-0531", "NIP27-0532"], "shortlisted", "strong_profile")
    bulk(client, api, ["NIP27-0533", "NIP27-0534"], "rejected", "limited_places")

    preview = client.get("/api/v1/decisions/releasable?department=it", headers=api).get_json()
    assert preview["count"] == 3 and preview["languages"] == {"en": 1, "fr": 2}
    assert preview["decisions"] == {"shortlisted": 2, "rejected": 1}

    browser = signed_in(app, admin)
    page = browser.get("/decisions/release?department=it").get_data(as_text=True)
    assert "3 candidates will be emailed" in page and "1 in English, 2 in French" in page
    assert "NIP27-0534" not in page
    # revised after the page was shown: not released, reported
    bulk(client, api, ["NIP27-0533"], "reserve", "good_fit")
    posted = {"csrf_token": csrf_token(page), "view": "department=it",
              "decisions": re.findall(r'name="decisions" value="([^"]+)"', page)}
    response = browser.post("/decisions/release", data=posted)
    assert response.status_code == 302
    shown = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 decisions released" in shown and "NIP27-0533 (changed)" in shown
    assert sorted(e["reference"] for e in released_events(app)) == ["NIP27-0531", "NIP27-0532"]
    # the release API the scripts use is unchanged
    again = client.post("/api/v1/decisions/release", headers=api, json={"references": ["NIP27-0534"]})
    assert again.get_json() == {"released": ["NIP27-0534"], "skipped": []}


def test_release_page_with_nothing_to_release_says_so(app, admin):
    page = signed_in(app, ADMIN).get("/decisions/release?department=hr").get_data(as_text=True)
    assert "No recorded decision waits for release in this list." in page
    assert 'name="decisions"' not in page
