"""The applicant portal, attacked: every email's link opens the application once, the address then holds no
secret, sessions end by time and on demand, revoked tokens open nothing, a duplicate learns nothing."""
from __future__ import annotations

import io
import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from services.intake.applications.models import Application
from services.intake.applications.tasks import check_application
from services.intake.db import OUTBOX, db
from services.intake.portal.models import PortalLink
from shared.db import utcnow
from shared.documents import DocumentStore
from tests.factories import application_payload, link_path, make_pdf, multipart, open_portal


def submit(client, pdf, proof, **overrides):
    response = client.post("/api/v1/applications", data=multipart(application_payload(**overrides), cv=pdf,
                                                                   academic_proof=proof),
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.get_data(as_text=True)
    return response


def events(type_: str) -> list[dict]:
    bodies = db.session.scalars(select(OUTBOX.c.body).where(OUTBOX.c.task == "notify.handle_event")
                                .order_by(OUTBOX.c.id))
    found = [json.loads(body)[0] for body in bodies]
    return [event["data"] for event in found if event["type"] == type_]


def emailed_link(reference: str) -> str:
    """The link in the latest email intake asked notify to send about `reference`."""
    sent = [e for e in events("application.status_changed") + events("application.access_requested")
            if e["reference"] == reference]
    return link_path(sent[-1]["link"])


def test_the_confirmation_emails_link_opens_the_portal_once_and_the_address_holds_no_secret(client, pdf, proof):
    reference = submit(client, pdf, proof).get_json()["reference"]
    link = emailed_link(reference)
    secret = link.split("/access/", 1)[1].split("?")[0]

    opened = client.get(link)
    assert opened.status_code == 303
    assert opened.headers["Location"].endswith(f"/status/{reference}?lang=en")
    page = client.get(opened.headers["Location"])
    assert page.status_code == 200 and reference in page.get_data(as_text=True)
    assert secret not in page.request.url and "token" not in page.request.url
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    cookie = opened.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie

    # a used link, even in another browser, opens nothing and offers a fresh one
    again = client.application.test_client().get(link)
    assert again.status_code == 410
    text = again.get_data(as_text=True)
    assert reference not in text and "Email me a fresh link" in text
    assert db.session.scalar(select(PortalLink.secret_sha256).where(PortalLink.reference == reference)) != secret


def test_a_used_link_asks_for_a_fresh_one_sent_to_the_owner_only(client, pdf, proof):
    reference = submit(client, pdf, proof).get_json()["reference"]
    link = emailed_link(reference)
    client.get(link)
    stranger = client.application.test_client()
    refused = stranger.get(link)
    secret = link.split("/access/", 1)[1].split("?")[0]
    before = len(events("application.access_requested"))
    fresh = stranger.post("/access/fresh", data={"secret": secret, "csrf_token": _csrf(stranger, refused)})
    assert fresh.status_code == 200 and "Check your email" in fresh.get_data(as_text=True)
    sent = events("application.access_requested")[before:]
    assert [(e["email"], e["purpose"]) for e in sent] == [("ana.popescu@example.org", "status")]
    # the fresh link works; the stranger's browser holds no session for the application
    assert stranger.get(f"/status/{reference}").status_code == 401
    assert client.application.test_client().get(link_path(sent[0]["link"]), follow_redirects=True).status_code == 200


def _csrf(client, response) -> str:
    text = response.get_data(as_text=True)
    return text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_an_expired_link_opens_nothing_and_offers_a_fresh_one(client, pdf, proof):
    reference = submit(client, pdf, proof).get_json()["reference"]
    link = emailed_link(reference)
    db.session.execute(update(PortalLink).where(PortalLink.reference == reference)
                       .values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    refused = client.get(link)
    assert refused.status_code == 410 and "expired" in refused.get_data(as_text=True)
    assert "Email me a fresh link" in refused.get_data(as_text=True)
    assert client.get(f"/status/{reference}").status_code == 401


@pytest.mark.parametrize("path", ["/access/not-a-link", "/access/" + "x" * 400, "/access/%C3%A9t%C3%A9"])
def test_a_link_we_did_not_make_is_an_html_page_not_json(client, path):
    response = client.get(path)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "not valid" in response.get_data(as_text=True)


def test_the_status_address_with_the_api_token_opens_nothing(client, pdf, proof):
    body = submit(client, pdf, proof).get_json()
    for path in (f"/status/{body['reference']}?token={body['token']}",
                 f"/privacy/export/{body['reference']}?token={body['token']}",
                 f"/privacy/erase/{body['reference']}?token={body['token']}"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert "Ana" not in response.get_data(as_text=True) and response.mimetype == "text/html"
        assert "follow the link in the latest email" in response.get_data(as_text=True)


def test_a_session_opens_its_own_application_only(client, pdf, proof):
    mine = submit(client, pdf, proof).get_json()["reference"]
    theirs = submit(client, pdf, proof, email="grace.hopper@example.org", given_name="Grace",
                    family_name="Hopper").get_json()["reference"]
    assert open_portal(client, mine).status_code == 200
    for path in (f"/status/{theirs}", f"/privacy/export/{theirs}", f"/privacy/erase/{theirs}",
                 f"/status/{theirs}/withdraw"):
        response = client.get(path)
        assert response.status_code == 401 and "Grace" not in response.get_data(as_text=True), path
    # opening another application's link replaces the session: one application at a time
    assert open_portal(client, theirs).status_code == 200
    assert client.get(f"/status/{mine}").status_code == 401


def test_an_idle_or_too_old_session_ends(client, pdf, proof):
    reference = submit(client, pdf, proof).get_json()["reference"]
    open_portal(client, reference)
    settings = client.application.config["SETTINGS"]
    with client.session_transaction() as held:
        held["applicant"] = {**held["applicant"],
                             "seen": int(time.time()) - settings.applicant_session_idle_minutes * 60 - 5}
    assert client.get(f"/status/{reference}").status_code == 401

    open_portal(client, reference)
    with client.session_transaction() as held:
        held["applicant"] = {**held["applicant"],
                             "started": int(time.time()) - settings.applicant_session_hours * 3600 - 5}
    assert client.get(f"/status/{reference}").status_code == 401


def test_sign_out_everywhere_ends_every_session_and_revokes_the_api_token(client, pdf, proof):
    body = submit(client, pdf, proof).get_json()
    reference, auth = body["reference"], {"Authorization": f"Bearer {body['token']}"}
    laptop, phone = client, client.application.test_client()
    page = open_portal(laptop, reference)
    open_portal(phone, reference)
    assert client.get(f"/api/v1/applications/{reference}", headers=auth).status_code == 200

    out = laptop.post(f"/status/{reference}/sign-out-everywhere", data={"csrf_token": _csrf(laptop, page)})
    assert out.status_code == 200 and "Signed out" in out.get_data(as_text=True)
    assert laptop.get(f"/status/{reference}").status_code == 401
    assert phone.get(f"/status/{reference}").status_code == 401
    assert client.get(f"/api/v1/applications/{reference}", headers=auth).status_code == 404
    # the emailed links still open it, with a new session
    assert open_portal(phone, reference).status_code == 200


def test_sign_out_ends_this_browsers_session_only(client, pdf, proof):
    body = submit(client, pdf, proof).get_json()
    reference = body["reference"]
    other = client.application.test_client()
    page = open_portal(client, reference)
    open_portal(other, reference)
    assert client.post(f"/status/{reference}/sign-out", data={"csrf_token": _csrf(client, page)}).status_code == 200
    assert client.get(f"/status/{reference}").status_code == 401
    assert other.get(f"/status/{reference}").status_code == 200
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert client.get(f"/api/v1/applications/{reference}", headers=headers).status_code == 200


def test_withdrawal_from_the_portal_is_confirmed_then_revokes_every_way_in_but_the_emailed_link(client, pdf, proof):
    body = submit(client, pdf, proof).get_json()
    reference, auth = body["reference"], {"Authorization": f"Bearer {body['token']}"}
    page = open_portal(client, reference)
    assert "Withdraw my application" in page.get_data(as_text=True)
    confirm = client.get(f"/status/{reference}/withdraw")
    assert confirm.status_code == 200 and "Yes, withdraw my application" in confirm.get_data(as_text=True)
    assert db.session.scalar(select(Application.status).where(Application.reference == reference)) == "submitted"

    done = client.post(f"/status/{reference}/withdraw", data={"csrf_token": _csrf(client, confirm)})
    assert done.status_code == 200 and "has been withdrawn" in done.get_data(as_text=True)
    assert db.session.scalar(select(Application.status).where(Application.reference == reference)) == "withdrawn"
    assert client.get(f"/status/{reference}").status_code == 401
    assert client.get(f"/api/v1/applications/{reference}", headers=auth).status_code == 404
    # the withdrawal's email opens the application, withdrawn, with no way to withdraw it again
    withdrawn = [e for e in events("application.status_changed") if e["new"] == "withdrawn"]
    portal = client.get(link_path(withdrawn[-1]["link"]), follow_redirects=True)
    text = portal.get_data(as_text=True)
    assert portal.status_code == 200 and "withdrawn" in text and "Withdraw my application" not in text
    assert "Download my data" in text


def test_withdrawal_needs_the_forms_token(client, pdf, proof):
    reference = submit(client, pdf, proof).get_json()["reference"]
    open_portal(client, reference)
    assert client.post(f"/status/{reference}/withdraw").status_code == 400
    assert db.session.scalar(select(Application.status).where(Application.reference == reference)) == "submitted"


def test_an_erased_applications_link_and_token_open_nothing(client, pdf, proof):
    from services.intake.privacy.erasure import run_erasure

    body = submit(client, pdf, proof).get_json()
    reference = body["reference"]
    link = emailed_link(reference)
    run_erasure(session=db.session, store=DocumentStore.of(client.application.config["SETTINGS"]),
                reference=reference, reason="test")
    opened = client.get(link)
    assert opened.status_code == 404 and "Ana" not in opened.get_data(as_text=True)
    api = client.get(f"/api/v1/applications/{reference}", headers={"Authorization": f"Bearer {body['token']}"})
    assert api.status_code == 410
    assert db.session.scalar(select(func.count()).select_from(PortalLink)
                             .where(PortalLink.reference == reference)) == 0


def test_documents_are_added_from_the_portal_while_incomplete(client, settings, pdf, proof):
    reference = submit(client, pdf, proof).get_json()["reference"]
    store = DocumentStore(settings.documents_dir)
    for key in store.keys():
        if store.read(key) == proof:
            (settings.documents_dir / key).unlink()
    assert check_application.run(reference) == "incomplete"
    page = open_portal(client, reference)
    text = page.get_data(as_text=True)
    assert "What to fix" in text and "Add or replace documents" in text

    empty = client.post(f"/status/{reference}/documents", data={"csrf_token": _csrf(client, page)},
                        content_type="multipart/form-data")
    assert empty.status_code == 422 and "Choose at least one file" in empty.get_data(as_text=True)
    bad = client.post(f"/status/{reference}/documents", content_type="multipart/form-data",
                      data={"csrf_token": _csrf(client, page), "academic_proof": (io.BytesIO(b""), "proof.pdf")})
    assert bad.status_code == 422 and "The file is empty." in bad.get_data(as_text=True)

    sent = client.post(f"/status/{reference}/documents", content_type="multipart/form-data",
                       data={"csrf_token": _csrf(client, page),
                             "academic_proof": (io.BytesIO(make_pdf("New proof")), "proof.pdf")})
    assert sent.status_code == 303
    after = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "your documents have been received" in after and "Add or replace documents" not in after
    assert check_application.run(reference) == "under_review"
    # the application is no longer incomplete: a stale form adds nothing and leads back to the page
    late = client.post(f"/status/{reference}/documents", content_type="multipart/form-data",
                       data={"csrf_token": _csrf(client, page),
                             "academic_proof": (io.BytesIO(make_pdf("Another proof")), "proof.pdf")})
    assert late.status_code == 303 and late.headers["Location"].endswith(f"/status/{reference}?lang=en")


def test_the_portal_speaks_french(client, pdf, proof):
    reference = submit(client, pdf, proof, correspondence_language="fr").get_json()["reference"]
    page = open_portal(client, reference, language="fr")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and '<html lang="fr">' in text
    assert "Votre candidature" in text and "heure de Bruxelles" in text and "Retirer ma candidature" in text


def test_a_duplicate_gets_the_answer_of_a_first_application_and_its_owner_is_emailed(client, pdf, proof):
    first = submit(client, pdf, proof)
    count = db.session.scalar(select(func.count()).select_from(Application))
    before = len(events("application.access_requested"))
    # the same person with the same address, then with another address (same name and date of birth)
    for overrides in ({}, {"email": "someone.else@example.org"}):
        again = submit(client, pdf, proof, **overrides)
        assert again.status_code == first.status_code == 201
        assert set(again.get_json()) == set(first.get_json())
        assert again.get_json()["status"] == first.get_json()["status"] == "submitted"
        assert again.get_json()["reference"] != first.get_json()["reference"]
        assert again.headers["Idempotent-Replayed"] == first.headers["Idempotent-Replayed"]
    assert db.session.scalar(select(func.count()).select_from(Application)) == count
    told = events("application.access_requested")[before:]
    assert [(e["email"], e["purpose"], e["reference"]) for e in told] == \
        [("ana.popescu@example.org", "duplicate", first.get_json()["reference"])] * 2
    # the owner's link opens their own application
    assert client.application.test_client().get(link_path(told[0]["link"]),
                                                 follow_redirects=True).status_code == 200


def test_a_duplicate_from_the_form_sees_the_page_a_first_application_sees(client, pdf, proof):
    first = submit(client, pdf, proof).get_json()
    form = client.get("/apply")
    token = _csrf(client, form)
    payload = application_payload()
    fields = {"csrf_token": token, "given_name": payload["given_name"], "family_name": payload["family_name"],
              "email": payload["email"], "date_of_birth": payload["date_of_birth"], "nationality": "Belgium",
              "languages.en": "C1", "education.institution": "KU Leuven", "education.degree_level": "master",
              "education.field_of_study": "Law", "education.status": "enrolled", "education.year_of_study": "2",
              "department1": payload["departments"][0], "session": "september", "correspondence_language": "en",
              "motivation": payload["motivation"], "consent": "yes",
              "cv": (io.BytesIO(pdf), "cv.pdf"), "academic_proof": (io.BytesIO(proof), "proof.pdf")}
    response = client.post("/apply", data=fields, content_type="multipart/form-data")
    assert response.status_code == 302 and "/apply/received" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Application received" in page and payload["email"] in page and first["reference"] not in page


def test_links_long_expired_are_purged_and_recent_ones_kept(client, pdf, proof):
    from services.intake.portal.tasks import purge_expired_links

    reference = submit(client, pdf, proof).get_json()["reference"]
    db.session.execute(update(PortalLink).where(PortalLink.reference == reference)
                       .values(expires_at=utcnow() - timedelta(days=8)))
    open_portal(client, reference)
    db.session.commit()
    assert purge_expired_links.run() >= 1
    assert db.session.scalar(select(func.count()).select_from(PortalLink)
                             .where(PortalLink.reference == reference)) == 1


def test_an_api_client_signs_out_everywhere_and_gets_the_one_token_that_works(client, pdf, proof):
    body = submit(client, pdf, proof).get_json()
    reference, old = body["reference"], {"Authorization": f"Bearer {body['token']}"}
    open_portal(client, reference)
    answer = client.post(f"/api/v1/applications/{reference}/sign-out-everywhere", headers=old)
    assert answer.status_code == 200 and answer.get_json()["token"] != body["token"]
    new = {"Authorization": f"Bearer {answer.get_json()['token']}"}
    assert client.get(f"/api/v1/applications/{reference}", headers=old).status_code == 404
    assert client.get(f"/api/v1/applications/{reference}", headers=new).status_code == 200
    assert client.get(f"/status/{reference}").status_code == 401
