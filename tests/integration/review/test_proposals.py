"""Coordinators propose decisions; the programme office sees them in the list and accepts or overrides them."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from services.review.audit.models import AuditEntry
from services.review.db import db

from .conftest import bearer, csrf_token, signed_in, token_for

COORDINATOR = "coord@example.org"


@pytest.fixture
def people(app, admin, make_user):
    make_user(COORDINATOR, role="coordinator", departments=("it",))
    make_user("rev@example.org", departments=("it",))
    client = app.test_client()
    return {"admin": bearer(token_for(client, admin)), "coordinator": bearer(token_for(client, COORDINATOR)),
            "reviewer": bearer(token_for(client, "rev@example.org"))}


def propose(client, headers, reference, decision="shortlisted", reason_code="strong_profile", **extra):
    return client.post(f"/api/v1/applications/{reference}/proposal", headers=headers,
                       json={"decision": decision, "reason_code": reason_code, **extra})


def listed(client, headers, query=""):
    return {i["reference"]: i.get("proposed") for i in
            client.get(f"/api/v1/applications{query}", headers=headers).get_json()["items"]}


def actions(app, reference):
    with app.app_context():
        return [a for a in db.session.scalars(select(AuditEntry.action).where(AuditEntry.reference == reference)
                                              .order_by(AuditEntry.id))]


def test_a_coordinators_proposal_shows_to_admins_and_is_accepted_in_one_click(app, people, under_review):
    under_review("NIP27-0901")
    under_review("NIP27-0902")
    client = app.test_client()
    response = propose(client, people["coordinator"], "NIP27-0901", note="Best of the batch")
    assert response.status_code == 200
    assert response.get_json()["proposed_by"] == COORDINATOR and response.get_json()["version"] == 1

    assert listed(client, people["admin"], "?proposed=true") == {"NIP27-0901": "shortlisted"}
    assert set(listed(client, people["admin"], "?proposed=false")) == {"NIP27-0902"}
    detail = client.get("/api/v1/applications/NIP27-0901", headers=people["admin"]).get_json()
    assert detail["proposal"]["decision"] == "shortlisted" and detail["decision"] is None

    accepted = client.post("/api/v1/applications/NIP27-0901/proposal/accept", headers=people["admin"],
                           json={"version": 1})
    assert accepted.status_code == 200
    assert accepted.get_json()["decision"] == "shortlisted"
    assert accepted.get_json()["reason_code"] == "strong_profile" and accepted.get_json()["note"] == "Best of the batch"
    detail = client.get("/api/v1/applications/NIP27-0901", headers=people["admin"]).get_json()
    assert detail["decision"]["decision"] == "shortlisted" and detail["proposal"] is None
    assert listed(client, people["admin"], "?proposed=true") == {}
    assert [a for a in actions(app, "NIP27-0901") if a.startswith("decision.")] == [
        "decision.proposed", "decision.recorded", "decision.proposal_accepted"]


def test_an_admin_overrides_a_proposal_by_recording_another_decision(app, people, under_review):
    under_review("NIP27-0903")
    client = app.test_client()
    propose(client, people["coordinator"], "NIP27-0903", "rejected", "weak_motivation")
    overridden = client.post("/api/v1/applications/NIP27-0903/decision", headers=people["admin"],
                             json={"decision": "reserve", "reason_code": "limited_places"})
    assert overridden.status_code == 200
    assert listed(client, people["admin"], "?proposed=true") == {}
    assert client.post("/api/v1/applications/NIP27-0903/proposal/accept", headers=people["admin"]) \
        .get_json()["error"]["code"] == "no_proposal"
    with app.app_context():
        recorded = db.session.scalars(select(AuditEntry).where(AuditEntry.reference == "NIP27-0903",
                                                               AuditEntry.action == "decision.recorded")).one()
        assert recorded.details["proposed"] == "rejected" and recorded.details["decision"] == "reserve"


def test_a_revised_proposal_is_not_accepted_at_the_version_the_admin_saw(app, people, under_review):
    under_review("NIP27-0904")
    client = app.test_client()
    propose(client, people["coordinator"], "NIP27-0904", "shortlisted")
    assert propose(client, people["coordinator"], "NIP27-0904", "rejected", "weak_motivation") \
        .get_json()["version"] == 2
    stale = client.post("/api/v1/applications/NIP27-0904/proposal/accept", headers=people["admin"],
                        json={"version": 1})
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "changed"
    assert client.get("/api/v1/applications/NIP27-0904", headers=people["admin"]).get_json()["decision"] is None


@pytest.mark.parametrize("actor, status", [("admin", 403), ("reviewer", 403)])
def test_only_coordinators_propose(app, people, under_review, actor, status):
    under_review("NIP27-0905")
    response = propose(app.test_client(), people[actor], "NIP27-0905")
    assert response.status_code == status
    assert listed(app.test_client(), people["admin"], "?proposed=true") == {}


def test_bad_proposals_are_refused_with_the_field_named(app, people, under_review):
    under_review("NIP27-0906")
    client = app.test_client()
    missing = client.post("/api/v1/applications/NIP27-0906/proposal", headers=people["coordinator"],
                          json={"decision": "hired"})
    assert missing.status_code == 422
    assert set(missing.get_json()["error"]["fields"]) == {"decision", "reason_code"}
    assert propose(client, people["coordinator"], "NIP27-0999").status_code == 404
    client.post("/api/v1/applications/NIP27-0906/decision", headers=people["admin"], json={"decision": "reserve"})
    client.post("/api/v1/decisions/release", headers=people["admin"], json={"references": ["NIP27-0906"]})
    assert propose(client, people["coordinator"], "NIP27-0906").get_json()["error"]["code"] == "already_released"


def test_the_pages_let_a_coordinator_propose_and_an_admin_accept(app, people, under_review):
    under_review("NIP27-0907", given_name="Bea", family_name="Ionescu")
    coordinator = signed_in(app, COORDINATOR)
    page = coordinator.get("/applications/NIP27-0907").get_data(as_text=True)
    assert 'id="proposal-form"' in page and "Record the decision" not in page
    response = coordinator.post("/applications/NIP27-0907/proposal", data={
        "proposal-decision": "reserve", "proposal-reason_code": "limited_places", "proposal-note": "Close call",
        "csrf_token": csrf_token(page)}, follow_redirects=True)
    assert "Proposal recorded" in response.get_data(as_text=True)

    admin = signed_in(app, "admin@example.org")
    listing = admin.get("/applications?proposed=true").get_data(as_text=True)
    assert "NIP27-0907" in listing and "proposed: Reserve" in listing
    page = admin.get("/applications/NIP27-0907").get_data(as_text=True)
    assert "Proposed by coord@example.org" in page and "Close call" in page and 'id="accept-proposal"' in page
    accepted = admin.post("/applications/NIP27-0907/proposal/accept",
                          data={"version": "1", "csrf_token": csrf_token(page)}, follow_redirects=True)
    html = accepted.get_data(as_text=True)
    assert "Proposal accepted" in html and "Recorded:" in html and 'id="accept-proposal"' not in html


def test_a_french_coordinator_proposes_in_french(app, people, under_review, user_id):
    under_review("NIP27-0908")
    changed = app.test_client().patch(f"/api/v1/users/{user_id(COORDINATOR)}", headers=people["admin"],
                                      json={"language": "fr"})
    assert changed.status_code == 200
    page = signed_in(app, COORDINATOR).get("/applications/NIP27-0908").get_data(as_text=True)
    assert "Proposer une décision" in page and "Motif" in page and "Profil solide pour le département" in page
    assert "Se déconnecter" in page and '<html lang="fr">' in page
