import io

from services.intake.applications.tasks import check_application, handle_event
from shared.documents import DocumentStore
from shared.events import make_event
from tests.factories import application_payload, make_pdf, multipart


def submit(client, pdf, proof, **overrides):
    body = client.post("/api/v1/applications", data=multipart(application_payload(**overrides), cv=pdf,
                                                                academic_proof=proof),
                       content_type="multipart/form-data").get_json()
    return body["reference"], {"Authorization": f"Bearer {body['token']}"}


def test_lost_document_makes_the_application_incomplete_until_replaced(client, settings, pdf, proof):
    reference, auth = submit(client, pdf, proof)
    store = DocumentStore(settings.documents_dir)  # stored encrypted: compared through the store
    for key in store.keys():
        if store.read(key) == proof:
            (settings.documents_dir / key).unlink()
    assert check_application.run(reference) == "incomplete"
    status = client.get(f"/api/v1/applications/{reference}", headers=auth).get_json()
    assert status["status"] == "incomplete" and status["problems"][0]["code"] == "document_unavailable"

    replaced = client.post(f"/api/v1/applications/{reference}/documents", headers=auth,
                           content_type="multipart/form-data",
                           data={"academic_proof": (io.BytesIO(make_pdf("New proof")), "proof.pdf")})
    assert replaced.status_code == 200 and replaced.get_json()["status"] == "checking"
    assert check_application.run(reference) == "under_review"


def test_documents_can_be_added_only_while_incomplete(client, pdf, proof):
    reference, auth = submit(client, pdf, proof)
    response = client.post(f"/api/v1/applications/{reference}/documents", headers=auth,
                           content_type="multipart/form-data",
                           data={"language_certificate": (io.BytesIO(make_pdf("DELF B2")), "delf.pdf")})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "not_incomplete"


def test_withdrawal_until_a_decision_is_released(client, pdf, proof):
    reference, auth = submit(client, pdf, proof)
    check_application.run(reference)
    withdrawn = client.post(f"/api/v1/applications/{reference}/withdraw", headers=auth)
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
    # withdrawal revokes the token: it now opens nothing, exactly like a wrong one
    for again in (client.post(f"/api/v1/applications/{reference}/withdraw", headers=auth),
                  client.get(f"/api/v1/applications/{reference}", headers=auth)):
        assert again.status_code == 404
        assert again.get_json() == client.get(f"/api/v1/applications/{reference}",
                                              headers={"Authorization": "Bearer 00"}).get_json()
    assert check_application.run(reference) is None  # a late check leaves a withdrawn application alone

    # once a decision is released, the application can no longer be withdrawn
    decided, decided_auth = submit(client, pdf, proof, email="grace.hopper@example.org", given_name="Grace",
                                   family_name="Hopper")
    assert check_application.run(decided) == "under_review"
    assert handle_event.run(make_event("decision.released", {
        "reference": decided, "decision": "shortlisted", "reason_code": "strong_profile",
        "released_by": "admin@example.org"}, producer="review")) is True
    refused = client.post(f"/api/v1/applications/{decided}/withdraw", headers=decided_auth)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "cannot_withdraw"
    assert client.get(f"/api/v1/applications/{decided}", headers=decided_auth).get_json()["status"] == "shortlisted"


def test_someone_else_cannot_withdraw(client, pdf, proof):
    reference, _ = submit(client, pdf, proof)
    response = client.post(f"/api/v1/applications/{reference}/withdraw", headers={"Authorization": "Bearer 00"})
    assert response.status_code == 404
