"""The applications list: filters, search, sort, counts, pages, labels in the user's language, and scope."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import update

from services.review.accounts.models import User
from services.review.applications.models import Application
from services.review.db import db
from services.review.reviews.service import update_settings
from shared.auth import StaffIdentity

from .conftest import ADMIN, T0, bearer, checked, login, signed_in, submitted, token_for


def listing(client, headers, **params):
    response = client.get("/api/v1/applications", headers=headers, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def refs(body) -> list[str]:
    return [i["reference"] for i in body["items"]]


def link_query(html: str, marker: str) -> dict:
    """The query of the link whose tag ends with `marker`, as a dict."""
    href = re.search(r'<a href="([^"]+)"[^>]*' + marker, html).group(1).replace("&amp;", "&")
    return dict(parse_qsl(urlsplit(href).query))


def set_scores(app, scores: dict[str, float]) -> None:
    """The read model's aggregate, as the reviews service keeps it on each review write."""
    with app.app_context():
        for reference, score in scores.items():
            db.session.execute(update(Application).where(Application.reference == reference)
                               .values(score=score, score_spread=0.5, reviews_done=2, reviews_assigned=2))
        db.session.commit()


def speaks_french(app, email: str) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.email == email).values(language="fr"))
        db.session.commit()


def test_filters_by_status_department_and_text(app, api, deliver, under_review):
    under_review("NIP27-0101", departments=["it"], given_name="Jan", family_name="Novak")
    under_review("NIP27-0102", departments=["finance", "it"], given_name="Marie", family_name="Dubois",
                 at=T0 + timedelta(hours=1))
    deliver(submitted("NIP27-0103", departments=["hr"], given_name="Lars", family_name="Olsen",
                      at=T0 + timedelta(hours=2)))
    client = app.test_client()
    everything = listing(client, api)
    assert refs(everything) == ["NIP27-0103", "NIP27-0102", "NIP27-0101"]
    assert everything["total"] == 3 and everything["page"] == 1 and everything["per_page"] == 50
    assert everything["counts"] == {"submitted": 1, "under_review": 2}
    assert refs(listing(client, api, status="under_review")) == ["NIP27-0102", "NIP27-0101"]
    assert refs(listing(client, api, department="it")) == ["NIP27-0102", "NIP27-0101"]
    assert refs(listing(client, api, q="dubois")) == ["NIP27-0102"]
    assert refs(listing(client, api, q="  MARIE DUB ")) == ["NIP27-0102"]
    assert refs(listing(client, api, q="nip27-0103")) == ["NIP27-0103"]
    assert listing(client, api, q="100%")["total"] == 0
    assert listing(client, api, q="_")["total"] == 0


def test_eligibility_duplicate_reviewer_and_score_filters_combine(app, api, deliver, make_user, under_review,
                                                                  user_id):
    make_user("rev-a@example.org", departments=["it"])
    under_review("NIP27-0111", departments=["it"], given_name="Ona", family_name="Eligible")
    under_review("NIP27-0112", departments=["it"], at=T0 + timedelta(hours=1))
    deliver(submitted("NIP27-0113", departments=["hr"], at=T0 + timedelta(hours=2)),
            checked("NIP27-0111", eligible=True),
            checked("NIP27-0112", eligible=False, problems=[{"code": "too_young", "message": "Too young."}]),
            checked("NIP27-0113", eligible=True,
                    problems=[{"code": "possible_duplicate", "message": "Same email as NIP27-0001."}]))
    set_scores(app, {"NIP27-0111": 4.2, "NIP27-0112": 2.5})
    client = app.test_client()
    assert refs(listing(client, api, eligible="true")) == ["NIP27-0113", "NIP27-0111"]
    assert refs(listing(client, api, eligible="false")) == ["NIP27-0112"]
    flagged = listing(client, api, duplicate="true")
    assert refs(flagged) == ["NIP27-0113"] and flagged["items"][0]["duplicate"] is True
    assert refs(listing(client, api, duplicate="false")) == ["NIP27-0112", "NIP27-0111"]
    assert refs(listing(client, api, reviewer=user_id("rev-a@example.org"))) == ["NIP27-0112", "NIP27-0111"]
    assert refs(listing(client, api, score_min=3)) == ["NIP27-0111"]
    assert refs(listing(client, api, score_min=2, score_max=3)) == ["NIP27-0112"]
    combined = listing(client, api, eligible="true", score_min=4, q="eligible", department="it")
    assert refs(combined) == ["NIP27-0111"] and combined["items"][0]["score"] == 4.2


def test_sorts_by_score_both_ways_unscored_last(app, api, under_review):
    for n, at in ((121, 0), (122, 1), (123, 2)):
        under_review(f"NIP27-0{n}", at=T0 + timedelta(hours=at))
    set_scores(app, {"NIP27-0121": 3.0, "NIP27-0122": 4.5})
    client = app.test_client()
    assert refs(listing(client, api, sort="-score")) == ["NIP27-0122", "NIP27-0121", "NIP27-0123"]
    assert refs(listing(client, api, sort="score")) == ["NIP27-0121", "NIP27-0122", "NIP27-0123"]
    assert refs(listing(client, api, sort="submitted")) == ["NIP27-0121", "NIP27-0122", "NIP27-0123"]


def test_pages_hold_fifty_newest_first_or_the_size_asked(app, api, deliver):
    deliver(*[submitted(f"NIP27-{n:04d}", at=T0 + timedelta(minutes=n)) for n in range(1, 56)])
    client = app.test_client()
    first, second = listing(client, api, page=1), listing(client, api, page=2)
    assert len(first["items"]) == 50 and len(second["items"]) == 5
    assert first["items"][0]["reference"] == "NIP27-0055" and second["items"][-1]["reference"] == "NIP27-0001"
    assert first["total"] == second["total"] == 55 and first["pages"] == 2
    small = listing(client, api, per_page=20, page=3)
    assert refs(small)[0] == "NIP27-0015" and len(small["items"]) == 15 and small["pages"] == 3


def test_invalid_filters_are_422_with_the_fields(app, api):
    client = app.test_client()
    response = client.get("/api/v1/applications?status=lost&page=0", headers=api)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"status", "page"}
    response = client.get("/api/v1/applications?sort=name&per_page=5000&score_min=abc", headers=api)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"sort", "per_page", "score_min"}
    response = client.get("/api/v1/applications?score_min=4&score_max=2", headers=api)
    assert response.status_code == 422 and "score_min" in response.get_json()["error"]["fields"]
    login(client, ADMIN)
    page = client.get("/applications?sort=name")
    assert page.status_code == 400 and "sort" in page.get_data(as_text=True)


def test_labels_come_in_the_users_language(app, api, admin, make_user, under_review):
    make_user("coord-fr@example.org", role="coordinator", departments=["it"])
    speaks_french(app, "coord-fr@example.org")
    under_review("NIP27-0131", departments=["it"])
    client = app.test_client()
    english = listing(client, api)["items"][0]
    assert english["status_label"] == "Under review" and english["nationality_label"] == "Bulgaria"
    assert english["department_labels"] == ["Information technology and cybersecurity"]
    assert english["session_label"] == "September session"
    french = listing(client, bearer(token_for(client, "coord-fr@example.org")))["items"][0]
    assert french["status_label"] == "En évaluation" and french["nationality_label"] == "Bulgarie"
    assert french["department_labels"] == ["Informatique et cybersécurité"]
    page = signed_in(app, "coord-fr@example.org").get("/applications").get_data(as_text=True)
    assert "Candidatures" in page and "Bulgarie" in page and "Session de septembre" in page


def test_reviewer_sees_only_their_assignments_and_coordinator_their_departments(app, admin, make_user,
                                                                                under_review, user_id):
    make_user("it-reviewer@example.org", departments=["it"])
    make_user("hr-coordinator@example.org", role="coordinator", departments=["hr"])
    under_review("NIP27-0201", departments=["it", "hr"])
    under_review("NIP27-0202", departments=["polsci"], given_name="Secret", family_name="Candidate")
    client = app.test_client()
    reviewer = bearer(token_for(client, "it-reviewer@example.org"))
    assert refs(listing(client, reviewer)) == ["NIP27-0201"]
    assert listing(client, reviewer, department="polsci")["total"] == 0
    assert listing(client, reviewer, q="secret")["total"] == 0
    hidden = client.get("/api/v1/applications/NIP27-0202", headers=reviewer)
    assert hidden.status_code == 404 and "Secret" not in hidden.get_data(as_text=True)
    coordinator = bearer(token_for(client, "hr-coordinator@example.org"))
    assert refs(listing(client, coordinator)) == ["NIP27-0201"]
    make_user("it-colleague@example.org", departments=["it"])
    under_review("NIP27-0203", departments=["it"])  # assigned to both reviewers of "it"
    assert refs(listing(client, reviewer)) == ["NIP27-0203", "NIP27-0201"]
    assert listing(client, reviewer, reviewer=user_id("it-colleague@example.org"))["total"] == 0
    assert refs(listing(client, reviewer, reviewer=user_id("it-reviewer@example.org"))) == ["NIP27-0203",
                                                                                           "NIP27-0201"]

    login(client, "it-reviewer@example.org")
    page = client.get("/applications").get_data(as_text=True)
    assert "NIP27-0201" in page and "NIP27-0202" not in page and "Secret" not in page
    assert 'name="references"' not in page  # no bulk decision for a reviewer
    assert client.get("/applications/NIP27-0202").status_code == 404


def test_blind_round_hides_names_from_reviewers_in_the_list(app, admin, make_user, under_review):
    make_user("blind-reviewer@example.org", departments=["it"])
    under_review("NIP27-0211", departments=["it"], given_name="Visible", family_name="Person")
    with app.app_context():
        update_settings(session=db.session, staff=StaffIdentity(0, ADMIN, "admin", ()), blind_round=True)
        db.session.commit()
    client = app.test_client()
    headers = bearer(token_for(client, "blind-reviewer@example.org"))
    item = listing(client, headers)["items"][0]
    assert item["reference"] == "NIP27-0211" and item["name"] is None
    assert item["nationality"] is None and item["nationality_label"] is None
    assert "Bulgaria" not in client.get("/api/v1/applications/NIP27-0211", headers=headers).get_data(as_text=True)
    assert "Visible" not in client.get("/api/v1/applications.csv", headers=headers).get_data(as_text=True)
    page = signed_in(app, "blind-reviewer@example.org").get("/applications").get_data(as_text=True)
    assert "NIP27-0211" in page and "Visible" not in page and "Bulgaria" not in page
    assert "Visible Person" in signed_in(app, ADMIN).get("/applications").get_data(as_text=True)


def test_list_page_keeps_the_view_in_its_links(app, admin, deliver, under_review):
    under_review("NIP27-0301", departments=["comms"], given_name="Sofia", family_name="Rossi")
    deliver(*[submitted(f"NIP27-{n:04d}", departments=["comms"], at=T0 + timedelta(minutes=n))
              for n in range(400, 425)])
    client = signed_in(app, admin)
    page = client.get("/applications?q=rossi&status=&department=comms").get_data(as_text=True)
    assert 'href="/applications/NIP27-0301"' in page and "Sofia Rossi" in page
    assert "Communications and public relations" in page and 'name="references"' in page
    paged = client.get("/applications?department=comms&sort=submitted&per_page=10").get_data(as_text=True)
    assert "Page 1 of 3" in paged
    assert link_query(paged, r'rel="next"') == {"department": "comms", "sort": "submitted", "per_page": "10",
                                                "page": "2"}
    assert link_query(paged, r">Download as CSV<") == {"department": "comms", "sort": "submitted"}
    assert link_query(paged, r'>Submitted <span class="count">25<') == {
        "department": "comms", "sort": "submitted", "per_page": "10", "status": "submitted"}
    detail = client.get("/applications/NIP27-0301").get_data(as_text=True)
    assert "Communications and public relations" in detail


def test_a_reviewer_sees_sorts_and_filters_by_scores_only_of_what_they_reviewed(app, admin, make_user,
                                                                                  under_review):
    make_user("scorer@example.org", departments=["it"])
    under_review("NIP27-0221", departments=["it"])
    under_review("NIP27-0222", departments=["it"], at=T0 + timedelta(hours=1))
    client = app.test_client()
    headers = bearer(token_for(client, "scorer@example.org"))
    review = {"scores": {"academic_record": 2, "motivation": 2, "language_skills": 2, "department_relevance": 2},
              "comment": "", "recommendation": "reserve"}
    assert client.post("/api/v1/applications/NIP27-0221/reviews", headers=headers, json=review).status_code == 201
    set_scores(app, {"NIP27-0221": 2.0, "NIP27-0222": 4.8})  # 0222 scored by others only
    items = {i["reference"]: (i["score"], i["score_spread"]) for i in listing(client, headers)["items"]}
    assert items == {"NIP27-0221": (2.0, 0.5), "NIP27-0222": (None, None)}
    assert refs(listing(client, headers, sort="-score")) == ["NIP27-0221", "NIP27-0222"]
    assert refs(listing(client, headers, score_min=4)) == []
    exported = client.get("/api/v1/applications.csv", headers=headers).get_data(as_text=True)
    assert "4.80" not in exported and "2.00" in exported
    page = signed_in(app, "scorer@example.org").get("/applications").get_data(as_text=True)
    assert "4.80" not in page and "2.00" in page
    assert refs(listing(client, bearer(token_for(client, ADMIN)), sort="-score")) == ["NIP27-0222", "NIP27-0221"]
