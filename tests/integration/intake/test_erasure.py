"""Erasure in intake: the person goes (fields, documents, dossiers, events that named them), a tombstone and
anonymous counts stay, consumers are told; by an admin through the privacy API or by the applicant, from their
portal session, by email."""
from __future__ import annotations

import json
import re

from sqlalchemy import select

from services.intake.applications.models import Application
from services.intake.db import OUTBOX
from services.intake.portal import links
from services.intake.privacy.models import Tombstone
from shared.documents import DocumentStore
from tests.factories import application_payload, link_path, make_pdf, multipart, open_portal


def submit(client, cv: bytes, proof: bytes, **fields):
    body = client.post("/api/v1/applications", data=multipart(application_payload(**fields), cv=cv,
                                                                  academic_proof=proof),
                       content_type="multipart/form-data").get_json()
    return body["reference"], body["token"]


def privacy_key(app) -> dict:
    return {"Authorization": f"Bearer {app.config['SETTINGS'].privacy_api_key}"}


def csrf_of(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def stored_plaintexts(app, session) -> set[bytes]:
    store = DocumentStore(app.config["SETTINGS"].documents_dir)
    return {store.read(key) for key in store.keys()}


def test_admin_erasure_removes_the_person_and_keeps_a_tombstone(app, client, session):
    cv, proof = make_pdf("CV of Zofia Erasable"), make_pdf("Proof of Zofia Erasable")
    reference, token = submit(client, cv, proof, given_name="Zofia", family_name="Erasable",
                              email="zofia.erasable@example.org", nationality="PL")
    store = DocumentStore(app.config["SETTINGS"].documents_dir)
    application = session.scalar(select(Application).where(Application.reference == reference))
    application.dossier_key = f"dossiers/{reference.lower()}.pdf"
    application.blind_dossier_key = f"dossiers/{reference.lower()}-blind.pdf"
    store.put_at(application.dossier_key, b"%PDF dossier of Zofia Erasable")
    store.put_at(application.blind_dossier_key, b"%PDF blind dossier")
    session.commit()
    assert cv in stored_plaintexts(app, session)
    # the applicant's browser is signed in to the portal, and an emailed link waits unopened
    assert open_portal(client, reference, language="fr").status_code == 200
    unopened, _expires = links.mint(session=session, reference=reference, language="en")
    session.commit()

    response = client.post(f"/internal/v1/privacy/applications/{reference}/erase", headers=privacy_key(app),
                           json={"reason": "asked by letter"})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "erased" and response.get_json()["final_status"] == "submitted"
    assert session.scalar(select(Application).where(Application.reference == reference)) is None
    tombstone = session.scalar(select(Tombstone).where(Tombstone.reference == reference))
    assert (tombstone.region, tombstone.departments, tombstone.reason) == ("europe", ["polsci", "comms"],
                                                                         "asked by letter")
    assert not {cv, proof, b"%PDF dossier of Zofia Erasable", b"%PDF blind dossier"} & stored_plaintexts(app, session)
    bodies = [row.body for row in session.execute(select(OUTBOX.c.body))]
    assert not [b for b in bodies if "zofia" in b.lower()]
    erased = [json.loads(b)[0] for b in bodies if '"application.erased"' in b]
    assert len(erased) == 2 and erased[0]["data"]["reference"] == reference  # one per consumer: review, notify
    # the applicant's own link now says so
    status = client.get(f"/api/v1/applications/{reference}", headers={"Authorization": f"Bearer {token}"})
    assert status.status_code == 410 and status.get_json()["error"]["code"] == "erased"
    page = client.get(f"/status/{reference}?lang=fr")
    assert page.status_code == 410 and "effacée" in page.get_data(as_text=True)
    export = client.get(f"/privacy/export/{reference}?lang=en")
    assert export.status_code == 410 and "erased" in export.get_data(as_text=True)
    # the links of an erased application are gone with it: the unopened one opens nothing and names nobody
    stranger = app.test_client()
    refused = stranger.get(link_path(unopened))
    assert refused.status_code == 404 and "Zofia" not in refused.get_data(as_text=True)
    assert stranger.get(f"/status/{reference}").status_code == 401


def test_erasing_twice_changes_nothing_and_publishes_once(app, client, session, pdf, proof):
    reference, _ = submit(client, pdf, proof)
    first = client.post(f"/internal/v1/privacy/applications/{reference}/erase", headers=privacy_key(app),
                        json={"reason": "duplicate request"})
    again = client.post(f"/internal/v1/privacy/applications/{reference}/erase", headers=privacy_key(app),
                        json={"reason": "duplicate request"})
    assert first.status_code == again.status_code == 200
    assert first.get_json()["erased_at"] == again.get_json()["erased_at"]
    published = session.scalars(select(OUTBOX.c.event_id).where(OUTBOX.c.event_type == "application.erased")).all()
    assert len(set(published)) == 1


def test_a_document_shared_with_another_application_stays(app, client, session, proof):
    shared_cv = make_pdf("A CV template two people both sent")
    first, _ = submit(client, shared_cv, proof)
    second, second_token = submit(client, shared_cv, proof, email="other.person@example.org",
                                  given_name="Other", family_name="Person")
    client.post(f"/internal/v1/privacy/applications/{first}/erase", headers=privacy_key(app),
                json={"reason": "asked by email"})
    assert shared_cv in stored_plaintexts(app, session)
    status = client.get(f"/api/v1/applications/{second}", headers={"Authorization": f"Bearer {second_token}"})
    assert status.status_code == 200


def test_the_privacy_api_refuses_anything_but_its_key(app, client, pdf, proof):
    reference, token = submit(client, pdf, proof)
    settings = app.config["SETTINGS"]
    wrong = (f"Bearer {token}", f"Bearer {settings.applicant_token_key}", f"Bearer {settings.sync_api_key}")
    for header in (None, *wrong):
        response = client.post(f"/internal/v1/privacy/applications/{reference}/erase", json={"reason": "x" * 10},
                               headers={"Authorization": header} if header else {})
        assert response.status_code == 401
    status = client.get(f"/api/v1/applications/{reference}", headers={"Authorization": f"Bearer {token}"})
    assert status.status_code == 200


def test_erasure_needs_a_reason_and_an_existing_reference(app, client, pdf, proof):
    reference, _ = submit(client, pdf, proof)
    missing = client.post(f"/internal/v1/privacy/applications/{reference}/erase", headers=privacy_key(app), json={})
    assert missing.status_code == 422 and "reason" in missing.get_json()["error"]["fields"]
    unknown = client.post("/internal/v1/privacy/applications/NIP27-ZZZZ-ZZZZ/erase", headers=privacy_key(app),
                          json={"reason": "no such person"})
    assert unknown.status_code == 404


def test_applicant_erasure_is_confirmed_through_an_emailed_link(app, client, session, pdf, proof):
    reference, token = submit(client, pdf, proof, email="confirm.me@example.org")
    # not from a key in the address: only a browser signed in to the application's portal may ask
    assert client.get(f"/privacy/erase/{reference}?token={token}&lang=en").status_code == 401
    open_portal(client, reference)
    page = client.get(f"/privacy/erase/{reference}?lang=en")
    assert page.status_code == 200 and "confirmation link" in page.get_data(as_text=True)
    assert token not in page.get_data(as_text=True)

    asked = client.post(f"/privacy/erase/{reference}", data={"csrf_token": csrf_of(page)})
    assert asked.status_code == 200 and "Check your email" in asked.get_data(as_text=True)
    event = json.loads(session.scalars(select(OUTBOX.c.body).where(
        OUTBOX.c.event_type == "application.access_requested")).all()[-1])[0]
    assert event["data"]["purpose"] == "erasure" and event["data"]["email"] == "confirm.me@example.org"
    link = event["data"]["link"]
    assert reference not in link  # the link names nobody; its signature carries the reference
    confirm_path = link.split("127.0.0.1", 1)[1].split("/", 1)[1]

    shown = client.get("/" + confirm_path)
    assert shown.status_code == 200 and reference in shown.get_data(as_text=True)
    assert session.scalar(select(Application).where(Application.reference == reference)) is not None  # not yet

    token_part = re.search(r"t=([^&]+)", link).group(1)
    done = client.post("/privacy/erase/confirm", data={"t": token_part, "csrf_token": csrf_of(shown)})
    assert done.status_code == 200 and "erased" in done.get_data(as_text=True)
    assert session.scalar(select(Tombstone.reason).where(Tombstone.reference == reference)) == "applicant"


def test_a_forged_erasure_link_or_a_status_token_erases_nothing(client, session, pdf, proof):
    reference, token = submit(client, pdf, proof)
    forged = client.get("/privacy/erase/confirm?t=not-a-token&lang=en")
    assert forged.status_code == 404 and "This link is not valid" in forged.get_data(as_text=True)
    # the status token is not an erasure link: one key per purpose
    assert client.get(f"/privacy/erase/confirm?t={token}").status_code == 404
    assert session.scalar(select(Application).where(Application.reference == reference)) is not None


def test_the_api_asks_for_an_erasure_link_with_the_applicants_token(client, session, pdf, proof):
    reference, token = submit(client, pdf, proof)
    assert client.post(f"/api/v1/applications/{reference}/erasure-request").status_code == 401
    asked = client.post(f"/api/v1/applications/{reference}/erasure-request",
                        headers={"Authorization": f"Bearer {token}"})
    assert asked.status_code == 202 and asked.get_json()["status"] == "confirmation_sent"
    purposes = [json.loads(body)[0]["data"]["purpose"] for body in session.scalars(
        select(OUTBOX.c.body).where(OUTBOX.c.event_type == "application.access_requested"))]
    assert purposes == ["erasure"]
    assert session.scalar(select(Application).where(Application.reference == reference)) is not None
