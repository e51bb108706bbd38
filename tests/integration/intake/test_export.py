"""The applicant's export: one zip with the application, the documents as uploaded, the dossier, the history,
and who among staff viewed it (read from review's access log over HTTP, with the privacy key)."""
from __future__ import annotations

import dataclasses
import io
import json
import threading
import zipfile

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from services.intake.applications.models import Application
from services.intake.applications.status import change_status
from services.intake.applications.tasks import check_application
from services.intake.privacy.notice import current_notice
from services.notify.mailcatcher import free_port
from services.review import create_app as create_review
from services.review.audit.service import record
from services.review.db import db as review_db
from shared.documents import DocumentStore
from shared.migrate import upgrade
from tests.factories import application_payload, make_pdf, multipart, open_portal


@pytest.fixture
def review_server(settings):
    """review's web app on loopback (SQLite), holding the same privacy key as intake."""
    port = free_port()
    upgrade("review", settings.review_database_url)
    app = create_review(settings, first_admin=False)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(10)
        review_db.session.remove()
        review_db.engine.dispose()


@pytest.fixture
def exporting(app, review_server):
    """intake pointed at the live review."""
    review_app, url = review_server
    app.config["SETTINGS"] = dataclasses.replace(app.config["SETTINGS"], review_internal_url=url)
    return review_app


def submit(client, cv, proof, **fields):
    body = client.post("/api/v1/applications", data=multipart(application_payload(**fields), cv=cv,
                                                                  academic_proof=proof),
                       content_type="multipart/form-data").get_json()
    return body["reference"], body["token"]


def test_the_applicant_downloads_everything_held_about_them(app, client, session, exporting):
    cv, proof = make_pdf("CV of Export Person", pages=2), make_pdf("Proof of Export Person")
    reference, token = submit(client, cv, proof, given_name="Export", family_name="Person", email="export@example.org",
                              correspondence_language="fr")
    application = session.scalar(select(Application).where(Application.reference == reference))
    application.dossier_key = f"dossiers/{reference.lower()}.pdf"
    DocumentStore(app.config["SETTINGS"].documents_dir).put_at(application.dossier_key, b"%PDF the dossier")
    session.commit()
    with exporting.app_context():
        record(session=review_db.session, actor="reviewer@example.org", action="dossier.viewed", reference=reference)
        record(session=review_db.session, actor="admin@example.org", action="decision.recorded", reference=reference)
        review_db.session.commit()

    response = client.get(f"/api/v1/applications/{reference}/export", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/zip" and "attachment" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    data = json.loads(archive.read("application.json"))
    assert (data["email"], data["given_name"], data["family_name"]) == ("export@example.org", "Export", "Person")
    assert data["consent"]["notice_sha256"] == current_notice("fr").sha256
    assert archive.read("documents/cv-cv.pdf") == cv
    assert archive.read("documents/academic_proof-academic_proof.pdf") == proof
    assert archive.read("dossier.pdf") == b"%PDF the dossier"
    assert [h["new"] for h in json.loads(archive.read("history.json"))] == ["submitted"]
    views = json.loads(archive.read("access_log.json"))
    assert [(v["who"], v["what"]) for v in views] == [("reviewer@example.org", "dossier.viewed")]


def test_the_status_page_offers_the_download_and_erasure(app, client, exporting, pdf, proof):
    reference, token = submit(client, pdf, proof)
    page = open_portal(client, reference).get_data(as_text=True)
    assert f"/privacy/export/{reference}" in page and f"/privacy/erase/{reference}" in page
    assert token not in page and "token=" not in page  # the links carry no key: the session opens them
    download = client.get(f"/privacy/export/{reference}")
    assert download.status_code == 200 and "application.json" in zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    assert app.test_client().get(f"/privacy/export/{reference}?token={token}").status_code == 401


def test_no_export_without_the_applicants_token(client, pdf, proof):
    reference, _ = submit(client, pdf, proof)
    assert client.get(f"/api/v1/applications/{reference}/export").status_code == 401
    assert client.get(f"/api/v1/applications/{reference}/export",
                      headers={"Authorization": "Bearer " + "0" * 64}).status_code == 404


def test_export_says_so_when_the_access_log_cannot_be_read(app, client, pdf, proof):
    reference, token = submit(client, pdf, proof)
    app.config["SETTINGS"] = dataclasses.replace(app.config["SETTINGS"],
                                                 review_internal_url=f"http://127.0.0.1:{free_port()}")
    response = client.get(f"/api/v1/applications/{reference}/export", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "access_log_unavailable"


def test_reviews_access_log_needs_the_privacy_key(review_server):
    review_app, _url = review_server
    client = review_app.test_client()
    assert client.get("/internal/v1/access-log/NIP27-AAAA-BBBB").status_code == 401
    sync = {"Authorization": f"Bearer {review_app.config['SETTINGS'].sync_api_key}"}
    assert client.get("/internal/v1/access-log/NIP27-AAAA-BBBB", headers=sync).status_code == 401


def exported(client, reference, token) -> zipfile.ZipFile:
    response = client.get(f"/api/v1/applications/{reference}/export", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return zipfile.ZipFile(io.BytesIO(response.data))


def test_the_export_gives_a_decision_and_its_reason_but_not_who_among_staff_took_it(client, session, exporting,
                                                                                      pdf, proof):
    reference, token = submit(client, pdf, proof)
    application = session.scalar(select(Application).where(Application.reference == reference))
    for status in ("checking", "under_review"):
        change_status(session=session, application=application, new=status, actor="worker")
    change_status(session=session, application=application, new="rejected", actor="review:office.head@example.org",
                  reason="limited_places")
    session.commit()

    archive = exported(client, reference, token)

    *_, decision = json.loads(archive.read("history.json"))
    assert (decision["new"], decision["reason"], decision["by"]) == ("rejected", "limited_places", "programme office")
    assert decision["reason_words"] == []  # a reviewer's code: intake has no words for it, the code is the data
    for name in ("history.json", "application.json"):
        assert "office.head" not in archive.read(name).decode()


def test_the_export_tells_the_checks_reasons_in_the_applicants_language(client, exporting, pdf, proof):
    reference, token = submit(client, pdf, proof, correspondence_language="fr", date_of_birth="2010-01-01")
    assert check_application.run(reference) == "ineligible"

    archive = exported(client, reference, token)

    *_, ineligible = json.loads(archive.read("history.json"))
    assert (ineligible["new"], ineligible["reason"], ineligible["by"]) == ("ineligible", "too_young", "worker")
    assert ineligible["reason_words"] == ["Les candidats doivent avoir au moins 21 ans le 31 janvier 2027."]
    [problem] = json.loads(archive.read("application.json"))["problems"]
    assert (problem["code"], problem["words"]) == ("too_young",
                                                   "Les candidats doivent avoir au moins 21 ans le 31 janvier 2027.")
