"""What the applicant sees of their history: their own problems to fix, never the reviewers' internal reasons."""
import io

import pytest

from services.intake.applications.tasks import check_application, handle_event
from services.intake.db import db
from services.intake.portal import links
from shared.events import make_event
from shared.documents import DocumentStore
from tests.factories import application_payload, link_path, make_pdf, multipart, open_portal

INTERNAL_REASON = "internal_x"


def submit(client, pdf, proof, **overrides):
    body = client.post("/api/v1/applications", data=multipart(application_payload(**overrides), cv=pdf,
                                                                academic_proof=proof),
                       content_type="multipart/form-data").get_json()
    return body["reference"], body["token"]


def release(reference: str, decision: str, reason_code: str | None = INTERNAL_REASON):
    event = make_event("decision.released", {"reference": reference, "decision": decision,
                                             "reason_code": reason_code, "released_by": "admin@example.org"},
                       producer="review")
    assert handle_event.run(event) is True


@pytest.mark.parametrize("decision", ["shortlisted", "reserve", "rejected"])
def test_status_api_hides_the_reviewers_reason_code(client, pdf, proof, decision):
    reference, token = submit(client, pdf, proof)
    assert check_application.run(reference) == "under_review"
    release(reference, decision)

    response = client.get(f"/api/v1/applications/{reference}", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == decision
    assert INTERNAL_REASON not in response.get_data(as_text=True)
    assert body["history"][-1] == {**body["history"][-1], "new": decision, "reason": None}


def test_status_page_hides_the_reviewers_reason_code(client, pdf, proof):
    reference, _token = submit(client, pdf, proof)
    check_application.run(reference)
    release(reference, "rejected", "insufficient_motivation")

    open_portal(client, reference)
    for lang in ("en", "fr"):
        page = client.get(f"/status/{reference}?lang={lang}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "insufficient_motivation" not in html
        assert ("not selected" if lang == "en" else "non retenue") in html


def test_eligibility_problems_stay_visible_to_the_candidate(client, pdf, proof):
    """The candidate needs these codes to understand or fix their application."""
    reference, token = submit(client, pdf, proof, nationality="BR", email="joao@example.org")
    assert check_application.run(reference) == "ineligible"

    body = client.get(f"/api/v1/applications/{reference}", headers={"Authorization": f"Bearer {token}"}).get_json()

    assert body["history"][-1]["reason"] == "nationality_not_eligible"
    assert [p["code"] for p in body["problems"]] == ["nationality_not_eligible"]


def test_completeness_problems_and_own_actions_stay_visible(client, settings, pdf, proof):
    reference, token = submit(client, pdf, proof)
    store = DocumentStore(settings.documents_dir)  # stored encrypted: compared through the store
    for key in store.keys():
        if store.read(key) == proof:
            (settings.documents_dir / key).unlink()
    assert check_application.run(reference) == "incomplete"
    auth = {"Authorization": f"Bearer {token}"}

    added = client.post(f"/api/v1/applications/{reference}/documents", headers=auth,
                        content_type="multipart/form-data",
                        data={"academic_proof": (io.BytesIO(make_pdf("New proof")), "proof.pdf")})

    assert added.status_code == 200
    reasons = [change["reason"] for change in added.get_json()["history"]]
    assert reasons[-2:] == ["document_unavailable", "documents added"]


def test_status_page_keeps_its_link_out_of_referrers_and_caches(client, pdf, proof):
    reference, _token = submit(client, pdf, proof)
    link, _expires = links.mint(session=db.session, reference=reference, language="en")
    db.session.commit()

    # the emailed link's address holds its secret: it is never passed on, and the page it leads to is not kept
    opened = client.get(link_path(link))
    assert opened.status_code == 303 and opened.headers["Referrer-Policy"] == "no-referrer"
    response = client.get(opened.headers["Location"])

    assert response.status_code == 200 and reference in response.get_data(as_text=True)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
