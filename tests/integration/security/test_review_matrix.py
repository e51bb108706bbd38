"""The review service's authorization matrix: every endpoint that reads or changes an application, for
each role, on an application inside and one outside the user's departments or assignment. Nothing leaks
(404 where the application is not theirs to see), nothing is written where it must not be; forms refuse
a request without a CSRF token; markup in applicant fields is shown as text."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.review.accounts.models import User
from services.review.db import db
from services.review.decisions.models import Decision, DecisionProposal
from services.review.reviews.models import Assignment, Review, ReviewSettings
from shared.documents import DocumentStore
from tests.factories import make_pdf
from tests.integration.review import conftest as review
from tests.integration.review.conftest import bearer, csrf_token, dossier_rendered, signed_in, token_for
from tests.integration.review.test_reviews import cheap_password_hashing  # noqa: F401  (autouse fixture)

# the review tests' fixtures, used here as they are
review_database_url, review_settings, app, admin, make_user = (
    review.review_database_url, review.review_settings, review.app, review.admin, review.make_user)
deliver, under_review, user_id = review.deliver, review.under_review, review.user_id

INSIDE, OUTSIDE = "NIP27-0701", "NIP27-0702"  # an `it` application assigned to r1 and r2; an `hr` one
SCORES = {"academic_record": 3, "motivation": 3, "language_skills": 3, "department_relevance": 3}
ACTORS = ("admin", "coordinator", "reviewer", "bystander")  # bystander: an `it` reviewer, not assigned

ADMIN_ONLY = dict(admin=200, coordinator=404, reviewer=404, bystander=404)  # OUTSIDE, read by the office alone

# (method, path, body, {actor: status on INSIDE}, {actor: status on OUTSIDE}); None: not checked here
READS = [
    ("GET", "/api/v1/applications/{ref}", None,
     dict(admin=200, coordinator=200, reviewer=200, bystander=404), ADMIN_ONLY),
    ("GET", "/applications/{ref}/dossier.pdf", None,
     dict(admin=200, coordinator=200, reviewer=200, bystander=404), ADMIN_ONLY),
    ("GET", "/api/v1/applications/{ref}/reviews", None,
     dict(admin=200, coordinator=200, reviewer=200, bystander=404), ADMIN_ONLY),
    ("GET", "/api/v1/applications/{ref}/assignments", None,
     dict(admin=200, coordinator=200, reviewer=403, bystander=404), ADMIN_ONLY),
    ("GET", "/api/v1/review-settings", None,
     dict(admin=200, coordinator=403, reviewer=403, bystander=403), {}),
]
WRITES = [
    # the assignee is already assigned: a 409 shows the request got past authorization without writing
    ("POST", "/api/v1/applications/{ref}/assignments", {"reviewer_id": "r2"},
     dict(admin=409, coordinator=409, reviewer=403, bystander=404), dict(coordinator=404, reviewer=404,
                                                                        bystander=404)),
    ("POST", "/api/v1/applications/{ref}/reviews", {"scores": SCORES, "recommendation": "reserve"},
     dict(admin=403, coordinator=403, bystander=404), dict(admin=403, coordinator=404, reviewer=404,
                                                           bystander=404)),
    ("POST", "/api/v1/applications/{ref}/decision", {"decision": "rejected"},
     dict(coordinator=403, reviewer=403, bystander=403), dict(coordinator=403, reviewer=403, bystander=403)),
    # a coordinator's own proposal on INSIDE is allowed (tests/integration/review/test_proposals.py)
    ("POST", "/api/v1/applications/{ref}/proposal", {"decision": "rejected", "reason_code": "other"},
     dict(admin=403, reviewer=403, bystander=403), dict(admin=403, coordinator=404, reviewer=403, bystander=403)),
    # nothing is proposed: a 409 shows the admin got past authorization
    ("POST", "/api/v1/applications/{ref}/proposal/accept", None,
     dict(admin=409, coordinator=403, reviewer=403, bystander=403), dict(admin=409, coordinator=403, reviewer=403,
                                                                        bystander=403)),
    ("POST", "/api/v1/decisions/release", {"references": ["{ref}"]},
     dict(coordinator=403, reviewer=403, bystander=403), dict(coordinator=403, reviewer=403, bystander=403)),
    ("POST", "/api/v1/decisions/bulk", {"references": ["{ref}"], "decision": "rejected"},
     dict(coordinator=403, reviewer=403, bystander=403), dict(coordinator=403, reviewer=403, bystander=403)),
    ("POST", "/api/v1/applications/{ref}/erase", {"reason": "test"},
     dict(coordinator=403, reviewer=403, bystander=403), dict(coordinator=403, reviewer=403, bystander=403)),
    ("GET", "/api/v1/applications/{ref}/export", None,
     dict(coordinator=403, reviewer=403, bystander=403), dict(coordinator=403, reviewer=403, bystander=403)),
    ("PUT", "/api/v1/review-settings", {"blind_round": True, "reviewers_per_application": 5},
     dict(coordinator=403, reviewer=403, bystander=403), {}),
    ("POST", "/api/v1/users", {"email": "new@example.org", "password": "a long enough password",
                               "role": "admin", "departments": []},
     dict(coordinator=403, reviewer=403, bystander=403), {}),
]


@pytest.fixture
def world(app, review_settings, admin, make_user, under_review, deliver, user_id):
    make_user("coord@example.org", role="coordinator", departments=("it",))
    make_user("r1@example.org", departments=("it",))
    make_user("r2@example.org", departments=("it",))
    make_user("hr@example.org", departments=("hr",))
    store = DocumentStore(review_settings.documents_dir)
    for reference, departments in ((INSIDE, ("it",)), (OUTSIDE, ("hr",))):
        under_review(reference, departments=departments, given_name="<script>alert(1)</script>",
                     family_name='<img src=x onerror="alert(2)">')
        store.put_at(f"dossiers/{reference.lower()}.pdf", make_pdf(reference))
        deliver(dossier_rendered(reference, key=f"dossiers/{reference.lower()}.pdf"))
    make_user("r3@example.org", departments=("it",))  # after assignment: assigned nothing
    client = app.test_client()
    tokens = {actor: bearer(token_for(client, email)) for actor, email in (
        ("admin", admin), ("coordinator", "coord@example.org"), ("reviewer", "r1@example.org"),
        ("bystander", "r3@example.org"))}
    return tokens, {"r2": user_id("r2@example.org")}


def _call(client, method, path, body, headers, reference, ids):
    def fill(value):
        if isinstance(value, str):
            return ids.get(value, value.replace("{ref}", reference))
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value
    url = path.replace("{ref}", reference)
    return client.open(url, method=method, headers={**headers, "Accept": "application/json"},
                       json=fill(body) if body is not None else None)


def _counts(app) -> dict:
    with app.app_context():
        return {"reviews": db.session.scalar(select(func.count()).select_from(Review)),
                "assignments": db.session.scalar(select(func.count()).select_from(Assignment)),
                "decisions": db.session.scalar(select(func.count()).select_from(Decision)),
                "proposals": db.session.scalar(select(func.count()).select_from(DecisionProposal)),
                "users": db.session.scalar(select(func.count()).select_from(User)),
                "settings": [(s.reviewers_per_application, s.blind_round)
                             for s in db.session.scalars(select(ReviewSettings))]}


def test_every_endpoint_by_every_role_inside_and_outside(app, world):
    tokens, ids = world
    client = app.test_client()
    before = _counts(app)
    wrong = []
    for method, path, body, inside, outside in READS + WRITES:
        for reference, expected in ((INSIDE, inside), (OUTSIDE, outside)):
            for actor, status in expected.items():
                response = _call(client, method, path, body, tokens[actor], reference, ids)
                if response.status_code != status:
                    wrong.append((method, path, reference, actor, status, response.status_code))
                if status == 404 and response.status_code == 404:
                    # a refusal says nothing about the application
                    assert "alert" not in response.get_data(as_text=True)
            anonymous = _call(client, method, path, body, {}, reference, ids)
            if anonymous.status_code != 401:
                wrong.append((method, path, reference, "anonymous", 401, anonymous.status_code))
    assert wrong == []
    assert _counts(app) == before  # none of the refused or conflicting requests wrote anything


def test_lists_queues_and_exports_show_nothing_outside_the_scope(app, world):
    tokens, _ = world
    client = app.test_client()
    for actor, sees in (("admin", {INSIDE, OUTSIDE}), ("coordinator", {INSIDE}), ("reviewer", {INSIDE}),
                        ("bystander", set())):
        for query in ("", f"?q={OUTSIDE}", "?department=hr"):
            items = client.get(f"/api/v1/applications{query}", headers=tokens[actor]).get_json()["items"]
            assert {i["reference"] for i in items} <= sees, (actor, query)
        listed = client.get("/api/v1/applications", headers=tokens[actor]).get_json()["items"]
        assert {i["reference"] for i in listed} == sees, actor
        csv = client.get("/api/v1/applications.csv", headers=tokens[actor]).get_data(as_text=True)
        assert {r for r in (INSIDE, OUTSIDE) if r in csv} == sees, actor
        queue = client.get("/api/v1/queue", headers=tokens[actor]).get_json()["items"]
        assert {i["reference"] for i in queue} == ({INSIDE} if actor == "reviewer" else set()), actor


def test_pages_refuse_outside_applications_and_forms_without_a_csrf_token(app, world):
    tokens, ids = world
    coordinator = signed_in(app, "coord@example.org")
    page = coordinator.get(f"/applications/{INSIDE}").get_data(as_text=True)
    token = csrf_token(page)
    assert coordinator.get(f"/applications/{OUTSIDE}").status_code == 404
    assert coordinator.post(f"/applications/{OUTSIDE}/assignments",
                            data={"reviewer_id": ids["r2"], "csrf_token": token}).status_code == 404
    assert coordinator.get("/review-settings").status_code == 403
    reviewer = signed_in(app, "r1@example.org")
    assert reviewer.get(f"/applications/{OUTSIDE}").status_code == 404
    reviewer_token = csrf_token(reviewer.get(f"/applications/{INSIDE}").get_data(as_text=True))
    form = {f"score_{code}": "3" for code in SCORES} | {"recommendation": "reserve"}
    assert reviewer.post(f"/applications/{OUTSIDE}/review", data={**form, "csrf_token": reviewer_token}) \
        .status_code == 404
    before = _counts(app)
    for client, url, data in ((reviewer, f"/applications/{INSIDE}/review", form),
                              (coordinator, f"/applications/{INSIDE}/assignments", {"reviewer_id": ids["r2"]}),
                              (coordinator, f"/applications/{INSIDE}/proposal",
                               {"proposal-decision": "rejected", "proposal-reason_code": "other"}),
                              (signed_in(app, "admin@example.org"), "/review-settings",
                               {"reviewers_per_application": "4", "blind_round": "y"})):
        assert client.post(url, data=data).status_code == 400, url
        assert client.post(url, data={**data, "csrf_token": "forged"}).status_code == 400, url
    assert _counts(app) == before


@pytest.mark.parametrize("email", ["coord@example.org", "r1@example.org"])
def test_only_admins_see_the_failed_emails_and_the_template_previews(app, world, email):
    browser = signed_in(app, email)
    for url in ("/emails/failed", "/emails/templates"):
        assert browser.get(url).status_code == 403, url
    assert "/emails/failed" not in browser.get("/applications").get_data(as_text=True)


def test_markup_in_applicant_fields_is_shown_as_text(app, world):
    admin_browser = signed_in(app, "admin@example.org")
    for url in (f"/applications/{INSIDE}", "/applications"):
        response = admin_browser.get(url)
        html = response.get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    reviewer = signed_in(app, "r1@example.org")
    queue = reviewer.get("/queue").get_data(as_text=True)
    assert "&lt;script&gt;" in queue and "<script>alert" not in queue


def test_deactivating_a_user_ends_their_sessions_and_tokens_at_once(app, world, user_id):
    tokens, _ = world
    browser = signed_in(app, "r1@example.org")
    assert browser.get("/queue").status_code == 200
    response = app.test_client().patch(f"/api/v1/users/{user_id('r1@example.org')}", headers=tokens["admin"],
                                       json={"active": False})
    assert response.status_code == 200
    assert app.test_client().get("/api/v1/queue", headers=tokens["reviewer"]).status_code == 401
    page = browser.get("/queue")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
