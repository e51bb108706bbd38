"""Reviews: the rubric, one review per reviewer (editable until release), the score and spread, who reads
which reviews, the reviewer's queue and the blind round."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from services.review.applications.models import Application
from services.review.audit.models import AuditEntry
from services.review.db import db
from services.review.reviews.models import Review
from shared.documents import DocumentStore
from tests.factories import make_pdf

from .conftest import (PASSWORD, T0, bearer, checked, csrf_token, dossier_rendered, envelope, login, signed_in,
                       token_for)

@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """Real argon2 with its lowest cost: these tests sign many users in, and what they check is not the hash."""
    from argon2 import PasswordHasher

    from services.review.accounts import service as accounts_service

    monkeypatch.setattr(accounts_service, "hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


ALL_FOUR = {"academic_record": 4, "motivation": 4, "language_skills": 4, "department_relevance": 4}
# weights 1, 1, 0.5, 1.5: (5 + 3 + 2 * 0.5 + 2 * 1.5) / 4 = 3.0
MIXED = {"academic_record": 5, "motivation": 3, "language_skills": 2, "department_relevance": 2}


@pytest.fixture
def team(make_user):
    """Two reviewers and a coordinator of `it`, a coordinator of `hr`."""
    for email, role, departments in (("r1@example.org", "reviewer", ("it",)), ("r2@example.org", "reviewer", ("it",)),
                                     ("coord@example.org", "coordinator", ("it",)),
                                     ("hrcoord@example.org", "coordinator", ("hr",))):
        make_user(email, role=role, departments=departments)


@pytest.fixture
def headers(app):
    cache: dict[str, dict] = {}

    def _headers(email: str) -> dict:
        if email not in cache:
            cache[email] = bearer(token_for(app.test_client(), email))
        return cache[email]
    return _headers


def post_review(app, headers, reference, scores=ALL_FOUR, recommendation="shortlisted", comment="Solid."):
    return app.test_client().post(f"/api/v1/applications/{reference}/reviews", headers=headers,
                                  json={"scores": scores, "recommendation": recommendation, "comment": comment})


def test_the_rubric_is_the_default_unless_configured(app, admin, headers):
    rubric = app.test_client().get("/api/v1/rubric", headers=headers(admin)).get_json()
    assert [c["code"] for c in rubric] == ["academic_record", "motivation", "language_skills", "department_relevance"]
    assert rubric[0] == {"code": "academic_record", "label": "Academic record", "weight": 1.0, "min": 1, "max": 5}


def test_a_configured_rubric_replaces_the_default(monkeypatch, review_settings, tmp_path):
    from services.review import create_app
    from shared.config import SettingsError

    path = tmp_path / "rubric.json"
    path.write_text('[{"code": "fit", "label": "Fit", "weight": 2, "min": 0, "max": 10}]')
    monkeypatch.setenv("REVIEW_RUBRIC", str(path))
    assert create_app(review_settings, first_admin=False).config["REVIEW_RUBRIC"] == [
        {"code": "fit", "label": "Fit", "weight": 2.0, "min": 0, "max": 10}]
    monkeypatch.setenv("REVIEW_RUBRIC", '[{"code": "fit", "label": "Fit", "weight": 2, "min": 5, "max": 1}]')
    with pytest.raises(SettingsError, match="REVIEW_RUBRIC"):
        create_app(review_settings, first_admin=False)


def test_scoring_keeps_the_weighted_score_and_spread(app, team, headers, under_review):
    under_review("NIP27-0601")
    first = post_review(app, headers("r1@example.org"), "NIP27-0601")
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["aggregate"] == 4.0
    second = post_review(app, headers("r2@example.org"), "NIP27-0601", scores=MIXED, recommendation="reserve")
    assert second.status_code == 201 and second.get_json()["aggregate"] == 3.0
    # a revision replaces the reviewer's review, it does not add one
    revised = post_review(app, headers("r1@example.org"), "NIP27-0601", scores={**ALL_FOUR, "motivation": 5})
    assert revised.status_code == 200 and revised.get_json()["aggregate"] == 4.25
    body = app.test_client().get("/api/v1/applications/NIP27-0601/reviews", headers=headers("coord@example.org"))
    summary = body.get_json()
    assert (summary["score"], summary["score_spread"], summary["reviews_done"], summary["reviews_assigned"]) \
        == (3.625, 1.25, 2, 2)
    assert [(r["reviewer"], r["recommendation"]) for r in summary["reviews"]] == [
        ("r1@example.org", "shortlisted"), ("r2@example.org", "reserve")]
    with app.app_context():
        assert db.session.scalar(select(Application.score).where(Application.reference == "NIP27-0601")) == 3.625
        assert len(db.session.scalars(select(Review)).all()) == 2
        actions = db.session.scalars(select(AuditEntry.details).where(AuditEntry.action == "review.saved")).all()
    assert [a["created"] for a in actions] == [True, True, False]


INVALID_SCORES = [
    ({**ALL_FOUR, "motivation": 6}, "motivation"),
    ({**ALL_FOUR, "motivation": 0}, "motivation"),
    ({**ALL_FOUR, "motivation": "4"}, "motivation"),
    ({**ALL_FOUR, "motivation": 3.5}, "motivation"),
    ({**ALL_FOUR, "motivation": True}, "motivation"),
    ({k: v for k, v in ALL_FOUR.items() if k != "motivation"}, "motivation"),
    ({**ALL_FOUR, "charisma": 5}, "charisma"),
]
INVALID_FIELDS = [
    ({"scores": ALL_FOUR, "recommendation": "maybe"}, "recommendation"),
    ({"scores": ALL_FOUR}, "recommendation"),
    ({"scores": [4, 4, 4, 4], "recommendation": "reserve"}, "scores"),
    ({"scores": ALL_FOUR, "recommendation": "reserve", "comment": "x" * 4001}, "comment"),
]


def test_invalid_reviews_are_refused_field_by_field(app, team, headers, under_review):
    under_review("NIP27-0602")
    client, reviewer = app.test_client(), headers("r1@example.org")
    url = "/api/v1/applications/NIP27-0602/reviews"
    for scores, criterion in INVALID_SCORES:
        response = client.post(url, headers=reviewer, json={"scores": scores, "recommendation": "reserve"})
        assert response.status_code == 422, scores
        assert list(response.get_json()["error"]["fields"]["scores"]) == [criterion], scores
    for body, field in INVALID_FIELDS:
        response = client.post(url, headers=reviewer, json=body)
        assert response.status_code == 422 and field in response.get_json()["error"]["fields"], body
    assert client.post(url, headers=reviewer, data="not json").status_code == 422
    with app.app_context():
        assert db.session.scalar(select(Review.id)) is None


def test_a_reviewer_reads_the_others_only_after_their_own(app, team, headers, under_review):
    under_review("NIP27-0604")
    post_review(app, headers("r2@example.org"), "NIP27-0604", scores=MIXED)
    client = app.test_client()
    before = client.get("/api/v1/applications/NIP27-0604/reviews", headers=headers("r1@example.org")).get_json()
    assert before["others_hidden"] is True and before["reviews"] == [] and before["score"] is None
    detail = client.get("/api/v1/applications/NIP27-0604", headers=headers("r1@example.org")).get_json()
    assert detail["score"] is None and detail["score_spread"] is None
    assert client.get("/api/v1/applications/NIP27-0604", headers=headers("coord@example.org")).get_json()["score"] \
        == 3.0
    post_review(app, headers("r1@example.org"), "NIP27-0604")
    after = client.get("/api/v1/applications/NIP27-0604/reviews", headers=headers("r1@example.org")).get_json()
    assert after["others_hidden"] is False and len(after["reviews"]) == 2 and after["score"] == 3.5
    assert client.get("/api/v1/applications/NIP27-0604", headers=headers("r1@example.org")).get_json()["score"] \
        == 3.5


def test_reviews_are_frozen_once_the_decision_is_released(app, admin, team, headers, under_review):
    under_review("NIP27-0605")
    post_review(app, headers("r1@example.org"), "NIP27-0605")
    client = app.test_client()
    client.post("/api/v1/applications/NIP27-0605/decision", headers=headers(admin), json={"decision": "shortlisted"})
    assert post_review(app, headers("r1@example.org"), "NIP27-0605", recommendation="rejected").status_code == 200
    assert client.post("/api/v1/decisions/release", headers=headers(admin),
                       json={"references": ["NIP27-0605"]}).get_json()["released"] == ["NIP27-0605"]
    late = post_review(app, headers("r1@example.org"), "NIP27-0605", recommendation="reserve")
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "already_released"


def test_only_assigned_reviewers_score(app, admin, team, headers, make_user, under_review):
    make_user("r3@example.org", departments=("it",))
    under_review("NIP27-0606")  # goes to r1 and r2
    assert post_review(app, headers("r3@example.org"), "NIP27-0606").status_code == 404
    coordinator = post_review(app, headers("coord@example.org"), "NIP27-0606")
    assert coordinator.status_code == 403 and coordinator.get_json()["error"]["code"] == "not_assigned"
    assert post_review(app, headers(admin), "NIP27-0606").status_code == 403
    assert post_review(app, headers("r1@example.org"), "NIP27-9999").status_code == 404


def test_the_queue_lists_what_is_left_to_score_oldest_first(app, team, headers, under_review):
    under_review("NIP27-0607", at=T0)
    under_review("NIP27-0608", at=T0)
    under_review("NIP27-0609", at=T0)
    post_review(app, headers("r1@example.org"), "NIP27-0608")
    queue = app.test_client().get("/api/v1/queue", headers=headers("r1@example.org")).get_json()["items"]
    assert [i["reference"] for i in queue] == ["NIP27-0607", "NIP27-0609"]
    assert queue[0]["name"] == "Ana Petrova" and queue[0]["url"] == "/applications/NIP27-0607"

    client = app.test_client()
    response = login(client, "r1@example.org")
    assert response.status_code == 302 and response.headers["Location"] == "/queue"
    page = client.get("/queue").get_data(as_text=True)
    assert page.index("NIP27-0607") < page.index("NIP27-0609") and "NIP27-0608" not in page


def test_a_reviewer_scores_from_the_application_page(app, team, under_review):
    under_review("NIP27-0610")
    client = signed_in(app, "r1@example.org")
    page = client.get("/applications/NIP27-0610").get_data(as_text=True)
    assert 'id="review-form"' in page and 'name="score_motivation"' in page
    form = {f"score_{code}": str(v) for code, v in MIXED.items()}
    form.update(recommendation="reserve", comment="Good <b>motivation</b>")
    refused = client.post("/applications/NIP27-0610/review", data=form)
    assert refused.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Review.id)) is None
    saved = client.post("/applications/NIP27-0610/review", data={**form, "csrf_token": csrf_token(page)})
    assert saved.status_code == 302 and saved.headers["Location"] == "/queue"
    page = client.get("/applications/NIP27-0610").get_data(as_text=True)
    assert "Update my review" in page and "Good &lt;b&gt;motivation&lt;/b&gt;" in page
    # the form comes back filled in with the review as saved
    assert re.search(r'<input checked[^>]*name="score_academic_record"[^>]*value="5"', page)
    assert re.search(r'<input checked[^>]*name="recommendation"[^>]*value="reserve"', page)
    assert "Score: <strong>3.00</strong>" in page


def test_a_coordinator_reassigns_from_the_application_page(app, team, make_user, under_review, user_id):
    make_user("r3@example.org", departments=("it",))
    under_review("NIP27-0611")
    client = signed_in(app, "coord@example.org")
    page = client.get("/applications/NIP27-0611").get_data(as_text=True)
    assert 'id="assignments"' in page and "r3@example.org" in page
    response = client.post("/applications/NIP27-0611/assignments", data={
        "reviewer_id": user_id("r3@example.org"), "replaces": user_id("r1@example.org"),
        "csrf_token": csrf_token(page)})
    assert response.status_code == 302
    page = client.get("/applications/NIP27-0611").get_data(as_text=True)
    panel = page[page.index('id="assignments"'):]
    assert "r3@example.org" in panel[:panel.index("</ul>")] and "r1@example.org" not in panel[:panel.index("</ul>")]


def _blind_round(app, admin, on: bool = True):
    response = app.test_client().put("/api/v1/review-settings", json={"blind_round": on},
                                     headers=bearer(token_for(app.test_client(), admin)))
    assert response.status_code == 200 and response.get_json()["blind_round"] is on


def test_the_blind_round_hides_the_person_from_reviewers_only(app, admin, team, headers, under_review):
    under_review("NIP27-0612", given_name="Zora", family_name="Quintero")
    _blind_round(app, admin)
    client = app.test_client()
    blind = client.get("/api/v1/applications/NIP27-0612", headers=headers("r1@example.org")).get_json()
    assert all(blind[k] is None for k in ("name", "given_name", "family_name", "nationality", "date_of_birth",
                                          "email"))
    assert blind["education"]["institution"] == "Sofia University"
    queue = client.get("/api/v1/queue", headers=headers("r1@example.org")).get_json()["items"]
    assert queue[0]["reference"] == "NIP27-0612" and queue[0]["name"] is None
    listed = client.get("/api/v1/applications", headers=headers("r1@example.org")).get_json()["items"]
    assert listed and all(i.get("name") is None and i.get("nationality") is None for i in listed)
    seen = client.get("/api/v1/applications/NIP27-0612", headers=headers("coord@example.org")).get_json()
    assert seen["name"] == "Zora Quintero" and seen["email"] == "ana@example.org"

    browser = signed_in(app, "r1@example.org")
    for url in ("/applications/NIP27-0612", "/queue", "/applications"):
        page = browser.get(url).get_data(as_text=True)
        assert "Zora" not in page and "Quintero" not in page and "ana@example.org" not in page, url
    assert "2002-05-17" not in browser.get("/applications/NIP27-0612").get_data(as_text=True)
    # the emails sent to the candidate would name them
    assert browser.get("/applications/NIP27-0612/emails").status_code == 403

    _blind_round(app, admin, on=False)
    assert client.get("/api/v1/applications/NIP27-0612", headers=headers("r1@example.org")).get_json()["name"] \
        == "Zora Quintero"


def test_the_blind_round_hides_which_other_applications_a_possible_duplicate_points_to(
        app, admin, team, headers, under_review, deliver):
    under_review("NIP27-0614")
    deliver(checked("NIP27-0614", problems=[
        {"code": "possible_duplicate", "message": "Possibly the same person as NIP27-0099: same email, or same name "
                                                  "and date of birth."},
        {"code": "missing_document", "message": "Proof of study is missing."}]))
    _blind_round(app, admin)
    client = app.test_client()

    blind = client.get("/api/v1/applications/NIP27-0614", headers=headers("r1@example.org")).get_json()
    assert [p["code"] for p in blind["problems"]] == ["missing_document"]
    page = signed_in(app, "r1@example.org").get("/applications/NIP27-0614").get_data(as_text=True)
    assert "NIP27-0099" not in page and "Proof of study is missing." in page
    seen = client.get("/api/v1/applications/NIP27-0614", headers=headers("coord@example.org")).get_json()
    assert "NIP27-0099" in seen["problems"][0]["message"]  # staff who see the person see the link

    _blind_round(app, admin, on=False)
    unblind = client.get("/api/v1/applications/NIP27-0614", headers=headers("r1@example.org")).get_json()
    assert [p["code"] for p in unblind["problems"]] == ["possible_duplicate", "missing_document"]


def test_under_the_blind_round_a_reviewer_gets_the_blind_dossier_or_nothing(app, review_settings, admin, team,
                                                                            headers, under_review, deliver):
    store = DocumentStore(review_settings.documents_dir)
    full, blind = make_pdf("Full dossier", pages=2), make_pdf("Blind dossier", pages=1)
    store.put_at("dossiers/nip27-0613.pdf", full)
    store.put_at("dossiers/nip27-0613-blind.pdf", blind)
    under_review("NIP27-0613")
    deliver(dossier_rendered("NIP27-0613", key="dossiers/nip27-0613.pdf", pages=2))
    _blind_round(app, admin)
    client = app.test_client()
    url = "/applications/NIP27-0613/dossier.pdf"
    refused = client.get(url, headers={**headers("r1@example.org"), "Accept": "application/json"})
    assert refused.status_code == 404
    assert refused.get_json()["error"]["message"] == "The blind dossier is not rendered yet."
    assert client.get(url, headers=headers("coord@example.org")).data == full

    deliver(envelope("dossier.rendered", {
        "reference": "NIP27-0613", "dossier_key": "dossiers/nip27-0613.pdf", "pages": 2, "sha256": "ab" * 32,
        "blind_dossier_key": "dossiers/nip27-0613-blind.pdf", "blind_pages": 1, "blind_sha256": "cd" * 32,
        "flags": [{"code": "unreadable_document", "message": "The language certificate could not be read."}]}))
    assert client.get(url, headers=headers("r1@example.org")).data == blind
    assert client.get(url, headers=headers(admin)).data == full
    with app.app_context():
        row = db.session.scalar(select(Application).where(Application.reference == "NIP27-0613"))
        assert row.blind_dossier_pages == 1 and row.dossier_flags[0]["code"] == "unreadable_document"
    page = signed_in(app, "r1@example.org").get("/applications/NIP27-0613").get_data(as_text=True)
    assert "Open the blind dossier (PDF, 1 pages)" in page


def test_an_admin_switches_the_blind_round_on_the_settings_page(app, admin, team):
    client = signed_in(app, admin)
    page = client.get("/review-settings").get_data(as_text=True)
    assert 'name="blind_round"' in page and "Relevance to the department" in page
    assert client.post("/review-settings", data={"reviewers_per_application": "2", "blind_round": "y"}) \
        .status_code == 400
    response = client.post("/review-settings", data={"reviewers_per_application": "3", "blind_round": "y",
                                                     "csrf_token": csrf_token(page)})
    assert response.status_code == 302
    settings = app.test_client().get("/api/v1/review-settings", headers=bearer(token_for(app.test_client(), admin)))
    assert settings.get_json()["blind_round"] is True and settings.get_json()["reviewers_per_application"] == 3
    reviewer = signed_in(app, "r1@example.org", PASSWORD)
    assert reviewer.get("/review-settings").status_code == 403
