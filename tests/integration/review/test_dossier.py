"""The dossier PDF: served to staff who may see the application, every view logged."""
from __future__ import annotations

from sqlalchemy import select

from services.review.audit.models import AuditEntry
from services.review.db import db
from shared.documents import DocumentStore
from tests.factories import make_pdf

from .conftest import bearer, dossier_rendered, login, token_for


def test_staff_get_the_dossier_and_the_view_is_logged(app, review_settings, admin, under_review, deliver):
    pdf = make_pdf("Dossier NIP27-0501", pages=2)
    DocumentStore(review_settings.documents_dir).put_at("dossiers/nip27-0501.pdf", pdf)
    under_review("NIP27-0501")
    deliver(dossier_rendered("NIP27-0501", key="dossiers/nip27-0501.pdf", pages=2))
    client = app.test_client()
    response = client.get("/applications/NIP27-0501/dossier.pdf", headers=bearer(token_for(client, admin)))
    assert response.status_code == 200
    assert response.is_streamed  # a file wrapper read from disk as it is sent, not a body held in memory
    assert response.data == pdf and response.mimetype == "application/pdf" and response.content_length == len(pdf)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Content-Disposition"].startswith("inline")
    csp = [d.strip() for d in response.headers["Content-Security-Policy"].split(";")]
    assert "sandbox" in csp and "default-src 'none'" in csp

    login(client, admin)
    detail = client.get("/applications/NIP27-0501").get_data(as_text=True)
    assert '<iframe class="dossier"' in detail and "/applications/NIP27-0501/dossier.pdf" in detail
    assert client.get("/applications/NIP27-0501/dossier.pdf").data == pdf
    with app.app_context():
        views = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "dossier.viewed")).all()
    assert [(v.actor, v.reference) for v in views] == [(admin, "NIP27-0501")] * 2


def test_anonymous_get_no_dossier(app, review_settings, under_review, deliver):
    DocumentStore(review_settings.documents_dir).put_at("dossiers/nip27-0502.pdf", make_pdf())
    under_review("NIP27-0502")
    deliver(dossier_rendered("NIP27-0502", key="dossiers/nip27-0502.pdf"))
    client = app.test_client()
    browser = client.get("/applications/NIP27-0502/dossier.pdf")
    assert browser.status_code == 302 and "/login" in browser.headers["Location"]
    script = client.get("/applications/NIP27-0502/dossier.pdf", headers={"Accept": "application/json"})
    assert script.status_code == 401
    forged = client.get("/applications/NIP27-0502/dossier.pdf", headers=bearer("forged"))
    assert forged.status_code == 401


def test_dossier_not_rendered_yet_is_404(app, admin, under_review):
    under_review("NIP27-0503")
    client = app.test_client()
    response = client.get("/applications/NIP27-0503/dossier.pdf",
                          headers={**bearer(token_for(client, admin)), "Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["message"] == "The dossier is not rendered yet."


def test_reviewer_of_another_department_gets_404(app, review_settings, make_user, under_review, deliver):
    DocumentStore(review_settings.documents_dir).put_at("dossiers/nip27-0504.pdf", make_pdf())
    make_user("hr@example.org", departments=["hr"])
    under_review("NIP27-0504", departments=["it"])
    deliver(dossier_rendered("NIP27-0504", key="dossiers/nip27-0504.pdf"))
    client = app.test_client()
    response = client.get("/applications/NIP27-0504/dossier.pdf",
                          headers=bearer(token_for(client, "hr@example.org")))
    assert response.status_code == 404 and not response.data.startswith(b"%PDF")


def test_download_is_an_attachment_and_audited_as_such(app, review_settings, admin, under_review, deliver):
    pdf = make_pdf("Dossier NIP27-0505")
    DocumentStore(review_settings.documents_dir).put_at("dossiers/nip27-0505.pdf", pdf)
    under_review("NIP27-0505")
    deliver(dossier_rendered("NIP27-0505", key="dossiers/nip27-0505.pdf"))
    client = app.test_client()
    login(client, admin)
    detail = client.get("/applications/NIP27-0505").get_data(as_text=True)
    assert "/applications/NIP27-0505/dossier.pdf?download=1" in detail
    response = client.get("/applications/NIP27-0505/dossier.pdf?download=1")
    assert response.status_code == 200 and response.is_streamed and response.data == pdf
    assert response.headers["Content-Disposition"] == "attachment; filename=NIP27-0505-dossier.pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.reference == "NIP27-0505")
                                     .order_by(AuditEntry.id)).all()
    assert actions == ["application.viewed", "dossier.downloaded"]  # the detail page, then the download


def test_a_dossier_key_cannot_reach_outside_the_store(app, review_settings, admin, under_review, deliver):
    (review_settings.documents_dir / "dossiers").mkdir(parents=True, exist_ok=True)
    under_review("NIP27-0506")
    deliver(dossier_rendered("NIP27-0506", key="dossiers/../../../etc/passwd"))
    client = app.test_client()
    response = client.get("/applications/NIP27-0506/dossier.pdf",
                          headers={**bearer(token_for(client, admin)), "Accept": "application/json"})
    assert response.status_code in (404, 422) and b"root:" not in response.data


def test_an_unencrypted_file_put_in_place_of_the_dossier_is_refused_not_served(app, review_settings, admin,
                                                                               under_review, deliver):
    DocumentStore(review_settings.documents_dir).put_at("dossiers/nip27-0506.pdf", make_pdf("The real one"))
    forged = make_pdf("A dossier written by whoever could reach the store")
    (review_settings.documents_dir / "dossiers/nip27-0506.pdf").write_bytes(forged)
    under_review("NIP27-0506")
    deliver(dossier_rendered("NIP27-0506", key="dossiers/nip27-0506.pdf", pages=1))
    client = app.test_client()

    response = client.get("/applications/NIP27-0506/dossier.pdf", headers=bearer(token_for(client, admin)))

    assert response.status_code == 409 and forged not in response.data
    assert "integrity check" in response.get_data(as_text=True)
