"""A reviewer who leaves (deactivated, or no longer in a department) hands their unscored assignments to other
reviewers of the same department in the same transaction; with nobody left the application shows a reviewer
missing. Reviews already written stay."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from services.review.accounts.models import User
from services.review.applications.models import Application
from services.review.audit.models import AuditEntry
from services.review.db import db
from services.review.reviews.models import Assignment, Review

from .conftest import bearer, csrf_token, signed_in, token_for
from .test_assignment import assigned, assigned_events
from .test_reviews import ALL_FOUR, cheap_password_hashing  # noqa: F401  (autouse fixture)


def score(app, email: str, reference: str) -> None:
    response = app.test_client().post(f"/api/v1/applications/{reference}/reviews",
                                      headers=bearer(token_for(app.test_client(), email)),
                                      json={"scores": ALL_FOUR, "recommendation": "shortlisted"})
    assert response.status_code == 201, response.get_json()


def one_reviewer_per_application(app, api) -> None:
    response = app.test_client().put("/api/v1/review-settings", headers=api, json={"reviewers_per_application": 1})
    assert response.status_code == 200


def counts(app, reference: str) -> tuple[int, int]:
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        return application.reviews_done, application.reviews_assigned


def handover_entries(app) -> list[dict]:
    with app.app_context():
        return [{"reference": e.reference, **e.details} for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "assignment.changed").order_by(AuditEntry.id))]


def test_deactivating_a_reviewer_moves_their_open_assignments_by_load_and_keeps_their_reviews(
        app, api, make_user, under_review, user_id):
    make_user("r1@example.org")
    make_user("r2@example.org")
    apps = [under_review(f"NIP27-070{n}") for n in range(4)]
    assert all(assigned(app, ref) == ["r1@example.org", "r2@example.org"] for ref in apps)
    score(app, "r1@example.org", apps[0])
    make_user("r3@example.org")
    make_user("r4@example.org")
    make_user("hr@example.org", departments=("hr",))
    one_reviewer_per_application(app, api)
    assert assigned(app, under_review("NIP27-0799")) == ["r3@example.org"]  # r3 starts with one open
    for ref in apps:  # r2 then has nothing open: the least loaded, yet already on every one of them
        score(app, "r2@example.org", ref)
    events_before = len(assigned_events(app))

    response = app.test_client().patch(f"/api/v1/users/{user_id('r1@example.org')}", headers=api,
                                       json={"active": False})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["assignments"] == {"moved": 3, "unassigned": 0}
    # the scored one stays with r1 and counts; each open one went to r3 or r4, never to r2 a second time
    assert assigned(app, apps[0]) == ["r1@example.org", "r2@example.org"] and counts(app, apps[0]) == (2, 2)
    successors = Counter(next(e for e in assigned(app, ref) if e != "r2@example.org") for ref in apps[1:])
    assert successors == {"r4@example.org": 2, "r3@example.org": 1}
    assert all(counts(app, ref) == (1, 2) for ref in apps[1:])
    with app.app_context():
        assert db.session.scalar(select(Review.aggregate).where(Review.reference == apps[0],
                                                                Review.reviewer_id == user_id("r1@example.org")))
    new_events = assigned_events(app)[events_before:]
    assert sorted(e["data"]["reference"] for e in new_events) == apps[1:]
    assert Counter(e["data"]["reviewer"]["email"] for e in new_events) == successors
    # notify takes them off r1's scope and next digest
    assert sorted((e["data"]["reference"], e["data"]["reviewer_id"], e["data"]["reason"])
                  for e in assigned_events(app, "review.unassigned")) == [(ref, user_id("r1@example.org"), "reviewer_deactivated")
                                                       for ref in apps[1:]]
    entries = handover_entries(app)[-3:]
    assert [e["reference"] for e in entries] == apps[1:]
    assert {(e["replaced"], e["reason"]) for e in entries} == {(user_id("r1@example.org"), "reviewer_deactivated")}
    r4_queue = app.test_client().get("/api/v1/queue", headers=bearer(token_for(app.test_client(), "r4@example.org")))
    assert sorted(i["reference"] for i in r4_queue.get_json()["items"]) == \
        sorted(ref for ref in apps[1:] if "r4@example.org" in assigned(app, ref))


def test_with_no_eligible_reviewer_left_the_assignment_is_removed_and_the_application_shows_it(
        app, admin, make_user, under_review, user_id):
    make_user("r1@example.org", departments=("finance",))
    make_user("r2@example.org", departments=("finance",))
    make_user("fincoord@example.org", role="coordinator", departments=("finance",))
    ref = under_review("NIP27-0710", departments=("finance",))
    assert assigned(app, ref) == ["r1@example.org", "r2@example.org"]

    office = signed_in(app, admin)
    done = office.post(f"/users/{user_id('r1@example.org')}", follow_redirects=True, data={
        "csrf_token": csrf_token(office.get("/users").get_data(as_text=True)), "action": "deactivate"})

    page = done.get_data(as_text=True)
    assert "r1@example.org is deactivated" in page
    assert "Open assignments moved to other reviewers: 0; left without a reviewer: 1." in page
    assert assigned(app, ref) == ["r2@example.org"] and counts(app, ref) == (0, 1)
    (entry,) = handover_entries(app)
    assert entry["reference"] == ref and entry["assigned"] is None
    coordinator = signed_in(app, "fincoord@example.org")
    assert "1 reviewer missing" in coordinator.get("/applications").get_data(as_text=True)
    assert "1 reviewer missing" in coordinator.get(f"/applications/{ref}").get_data(as_text=True)
    # reassigning by hand fills the gap and the flag goes
    make_user("r3@example.org", departments=("finance",))
    coord = bearer(token_for(app.test_client(), "fincoord@example.org"))
    assert app.test_client().post(f"/api/v1/applications/{ref}/assignments", headers=coord,
                                  json={"reviewer_id": user_id("r3@example.org")}).status_code == 201
    assert "reviewer missing" not in coordinator.get("/applications").get_data(as_text=True)


def test_dropping_a_department_moves_only_that_departments_open_assignments(
        app, api, make_user, under_review, user_id):
    one_reviewer_per_application(app, api)
    make_user("both@example.org", departments=("it", "hr"))
    it_ref = under_review("NIP27-0720", departments=("it",))
    hr_ref = under_review("NIP27-0721", departments=("hr",))
    hr_scored = under_review("NIP27-0722", departments=("hr",))
    score(app, "both@example.org", hr_scored)
    make_user("it@example.org", departments=("it",))
    make_user("hr@example.org", departments=("hr",))
    reviewer = bearer(token_for(app.test_client(), "both@example.org"))

    response = app.test_client().patch(f"/api/v1/users/{user_id('both@example.org')}", headers=api,
                                       json={"departments": ["it"]})

    assert response.status_code == 200 and response.get_json()["assignments"] == {"moved": 1, "unassigned": 0}
    assert assigned(app, it_ref) == ["both@example.org"]
    assert assigned(app, hr_ref) == ["hr@example.org"]
    assert assigned(app, hr_scored) == ["both@example.org"]
    queue = app.test_client().get("/api/v1/queue", headers=reviewer).get_json()["items"]
    assert [i["reference"] for i in queue] == [it_ref]
    assert app.test_client().get(f"/api/v1/applications/{hr_ref}", headers=reviewer).status_code == 404
    assert handover_entries(app)[-1]["reason"] == "department_removed"
    # the review written for hr stays and counts, but is no longer theirs to change
    revised = app.test_client().post(f"/api/v1/applications/{hr_scored}/reviews", headers=reviewer,
                                     json={"scores": ALL_FOUR, "recommendation": "rejected"})
    assert revised.status_code == 403 and revised.get_json()["error"]["code"] == "not_in_department"
    page = signed_in(app, "both@example.org").get(f"/applications/{hr_scored}").get_data(as_text=True)
    assert 'id="review-form"' not in page
    assert counts(app, hr_scored) == (1, 1)
    with app.app_context():
        assert db.session.scalars(select(Review.recommendation).where(Review.reference == hr_scored)).all() == [
            "shortlisted"]


def test_only_an_admin_can_make_a_reviewer_hand_over(app, admin, make_user, under_review, user_id):
    make_user("r1@example.org")
    make_user("r2@example.org")
    make_user("r3@example.org")
    make_user("hrcoord@example.org", role="coordinator", departments=("hr",))
    make_user("itcoord@example.org", role="coordinator", departments=("it",))
    ref = under_review("NIP27-0730")
    before, events = assigned(app, ref), len(assigned_events(app))
    target = user_id("r1@example.org")
    client = app.test_client()
    for email in ("hrcoord@example.org", "itcoord@example.org", "r2@example.org"):
        headers = bearer(token_for(client, email))
        for change in ({"active": False}, {"departments": ["hr"]}, {"role": "coordinator"}):
            assert client.patch(f"/api/v1/users/{target}", headers=headers, json=change).status_code == 403
        page = signed_in(app, email)
        token = csrf_token(page.get("/applications").get_data(as_text=True))
        assert page.post(f"/users/{target}", data={"csrf_token": token, "action": "deactivate"}).status_code == 403
    with app.app_context():
        r1 = db.session.get(User, target)
        assert r1.active and r1.departments == ["it"] and r1.role == "reviewer"
        assert db.session.scalar(select(Assignment.id).where(Assignment.reviewer_id == target))
    assert assigned(app, ref) == before and len(assigned_events(app)) == events
    assert handover_entries(app) == []


def test_accounts_changed_before_changes_handed_over_have_their_open_assignments_moved_at_migrate(
        app, api, make_user, under_review, user_id):
    from services.review.reviews.service import hand_over_stranded

    one_reviewer_per_application(app, api)
    make_user("gone@example.org", departments=("it",))
    make_user("moved@example.org", departments=("it", "hr"))
    gone = [under_review(f"NIP27-073{n}", departments=("it",)) for n in range(2)]
    hr_ref = under_review("NIP27-0735", departments=("hr",))
    make_user("it@example.org", departments=("it",))
    make_user("hr@example.org", departments=("hr",))
    assert [assigned(app, ref) for ref in gone] == [["gone@example.org"], ["moved@example.org"]]
    assert assigned(app, hr_ref) == ["moved@example.org"]
    gone_id, moved_id = user_id("gone@example.org"), user_id("moved@example.org")
    with app.app_context():  # as an admin's change did before it handed anything over: the row alone
        db.session.get(User, gone_id).active = False
        db.session.get(User, moved_id).departments = ["it"]
        db.session.commit()

        handover = hand_over_stranded(session=db.session, actor="migrate")
        db.session.commit()
        assert hand_over_stranded(session=db.session, actor="migrate") == handover.__class__()  # nothing left

    assert (handover.moved, handover.unassigned) == (2, 0)
    assert assigned(app, gone[0]) == ["it@example.org"] and assigned(app, gone[1]) == ["moved@example.org"]
    assert assigned(app, hr_ref) == ["hr@example.org"]
    assert sorted((e["reference"], e["reason"]) for e in handover_entries(app)) == [
        (gone[0], "reviewer_deactivated"), (hr_ref, "department_removed")]
