"""Assignment of reviewers: N per application, of its first department with reviewers, balanced by open
load, never one person twice, idempotent on redelivery; coordinators and admins reassign."""
from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from services.review.applications.models import Application
from services.review.audit.models import AuditEntry
from services.review.db import OUTBOX, db
from services.review.reviews.models import Assignment

from .conftest import T0, bearer, status_changed, token_for
from .test_reviews import cheap_password_hashing  # noqa: F401  (autouse fixture)


def assigned(app, reference: str) -> list[str]:
    from services.review.accounts.models import User
    with app.app_context():
        return sorted(db.session.scalars(select(User.email).join(Assignment, Assignment.reviewer_id == User.id)
                                         .where(Assignment.reference == reference)))


def assigned_events(app, event_type: str = "review.assigned") -> list[dict]:
    with app.app_context():
        rows = db.session.execute(select(OUTBOX.c.body).where(OUTBOX.c.event_type == event_type)
                                  .order_by(OUTBOX.c.id)).scalars().all()
    return [json.loads(body)[0] for body in rows]


def test_each_application_gets_two_reviewers_of_its_first_department_spread_evenly(app, make_user, under_review):
    for name in ("r1", "r2", "r3"):
        make_user(f"{name}@example.org", departments=("it",))
    make_user("hr@example.org", departments=("hr",))
    for n in range(3):
        under_review(f"NIP27-050{n}", departments=("it", "hr"))
    loads = Counter(email for n in range(3) for email in assigned(app, f"NIP27-050{n}"))
    assert loads == {"r1@example.org": 2, "r2@example.org": 2, "r3@example.org": 2}
    events = assigned_events(app)
    assert len(events) == 6
    assert {e["data"]["reviewer"]["email"] for e in events} == set(loads)
    assert all(e["producer"] == "review" and e["data"]["reviewer"]["language"] == "en" for e in events)
    with app.app_context():
        counts = db.session.scalars(select(Application.reviews_assigned)).all()
    assert counts == [2, 2, 2]


def test_a_redelivered_or_repeated_status_change_assigns_nobody_new(app, make_user, under_review, deliver):
    for name in ("r1", "r2", "r3"):
        make_user(f"{name}@example.org", departments=("it",))
    under_review("NIP27-0510")
    first = assigned(app, "NIP27-0510")
    event = status_changed("NIP27-0510", "under_review", at=T0 + timedelta(hours=1))
    assert deliver(event, event) == [True, False]
    assert assigned(app, "NIP27-0510") == first and len(first) == 2
    assert len(assigned_events(app)) == 2


def test_falls_back_to_the_next_preference_and_never_assigns_one_person_twice(app, make_user, under_review):
    make_user("both@example.org", departments=("polsci", "hr"))
    make_user("gone@example.org", departments=("comms",))
    make_user("hr@example.org", departments=("hr",))
    make_user("coord@example.org", role="coordinator", departments=("polsci",))
    with app.app_context():
        from services.review.accounts.models import User
        db.session.scalar(select(User).where(User.email == "gone@example.org")).active = False
        db.session.commit()
    under_review("NIP27-0520", departments=("comms", "polsci", "hr"))
    # comms has only a deactivated reviewer; polsci gives one, hr the second (not `both` again)
    assert assigned(app, "NIP27-0520") == ["both@example.org", "hr@example.org"]


def test_with_too_few_reviewers_assigns_whom_there_is(app, make_user, under_review):
    make_user("solo@example.org", departments=("finance",))
    under_review("NIP27-0530", departments=("finance",))
    assert assigned(app, "NIP27-0530") == ["solo@example.org"]


def test_a_coordinator_reassigns_an_unscored_reviewer(app, make_user, under_review, user_id):
    for name in ("r1", "r2", "r3"):
        make_user(f"{name}@example.org", departments=("it",))
    make_user("coord@example.org", role="coordinator", departments=("it",))
    under_review("NIP27-0540")
    assert assigned(app, "NIP27-0540") == ["r1@example.org", "r2@example.org"]
    client = app.test_client()
    headers = bearer(token_for(client, "coord@example.org"))
    response = client.post("/api/v1/applications/NIP27-0540/assignments", headers=headers,
                           json={"reviewer_id": user_id("r3@example.org"), "replaces": user_id("r1@example.org")})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["reviewer"] == "r3@example.org"
    assert assigned(app, "NIP27-0540") == ["r2@example.org", "r3@example.org"]
    assert [e["data"]["reviewer"]["email"] for e in assigned_events(app)][-1] == "r3@example.org"
    assert [(e["data"]["reviewer_id"], e["data"]["reason"]) for e in assigned_events(app, "review.unassigned")] == [
        (user_id("r1@example.org"), "replaced")]
    listing = client.get("/api/v1/applications/NIP27-0540/assignments", headers=headers).get_json()
    assert [(i["reviewer"], i["assigned_by"]) for i in listing["items"]] == [
        ("r2@example.org", None), ("r3@example.org", "coord@example.org")]
    with app.app_context():
        assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.reference == "NIP27-0540")) \
            == "assignment.changed"
    # the replaced reviewer no longer sees the application
    r1 = bearer(token_for(client, "r1@example.org"))
    assert client.get("/api/v1/applications/NIP27-0540", headers=r1).status_code == 404


def test_reassignment_refusals(app, make_user, under_review, user_id):
    for name in ("r1", "r2"):
        make_user(f"{name}@example.org", departments=("it",))
    make_user("hr@example.org", departments=("hr",))
    make_user("coord@example.org", role="coordinator", departments=("it",))
    under_review("NIP27-0550")
    client = app.test_client()
    coord = bearer(token_for(client, "coord@example.org"))
    url = "/api/v1/applications/NIP27-0550/assignments"

    def post(headers, **body):
        response = client.post(url, headers=headers, json=body)
        return response.status_code, response.get_json()["error"]["code"]

    assert post(coord, reviewer_id=user_id("r1@example.org")) == (409, "already_assigned")
    assert post(coord, reviewer_id=user_id("hr@example.org")) == (422, "invalid_fields")
    assert post(coord, reviewer_id=user_id("coord@example.org")) == (422, "invalid_fields")
    assert post(coord, reviewer_id="1") == (422, "invalid_fields")
    r1 = bearer(token_for(client, "r1@example.org"))
    client.post("/api/v1/applications/NIP27-0550/reviews", headers=r1, json={
        "scores": {"academic_record": 4, "motivation": 4, "language_skills": 4, "department_relevance": 4},
        "recommendation": "shortlisted"})
    make_user("r3@example.org", departments=("it",))
    assert post(coord, reviewer_id=user_id("r3@example.org"), replaces=user_id("r1@example.org")) \
        == (409, "already_reviewed")
    assert post(r1, reviewer_id=user_id("r3@example.org")) == (403, "forbidden")
    assert assigned(app, "NIP27-0550") == ["r1@example.org", "r2@example.org"]


def test_the_number_of_reviewers_is_a_setting(app, api, make_user, under_review):
    for name in ("r1", "r2", "r3"):
        make_user(f"{name}@example.org", departments=("it",))
    client = app.test_client()
    response = client.put("/api/v1/review-settings", headers=api, json={"reviewers_per_application": 3})
    assert response.status_code == 200 and response.get_json()["reviewers_per_application"] == 3
    under_review("NIP27-0560")
    assert len(assigned(app, "NIP27-0560")) == 3
    bad = client.put("/api/v1/review-settings", headers=api, json={"reviewers_per_application": 0})
    assert bad.status_code == 422 and "reviewers_per_application" in bad.get_json()["error"]["fields"]


def test_the_assignment_event_carries_the_reviewers_language(app, api, under_review):
    client = app.test_client()
    created = client.post("/api/v1/users", headers=api, json={
        "email": "fr@example.org", "password": "a long enough password", "role": "reviewer",
        "departments": ["it"], "language": "fr"})
    assert created.status_code == 201 and created.get_json()["language"] == "fr"
    assert client.post("/api/v1/users", headers=api, json={
        "email": "xx@example.org", "password": "a long enough password", "role": "reviewer",
        "language": "de"}).get_json()["error"]["fields"] == {"language": ["Must be one of: en, fr."]}
    under_review("NIP27-0570")
    (event,) = assigned_events(app)
    assert event["data"]["reviewer"] == {"id": created.get_json()["id"], "email": "fr@example.org",
                                         "language": "fr"}
    changed = client.patch(f"/api/v1/users/{created.get_json()['id']}", headers=api, json={"language": "en"})
    assert changed.status_code == 200 and changed.get_json()["language"] == "en"
