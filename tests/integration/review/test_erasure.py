"""Review's side of erasure and export: the admin API and page ask intake (live, over HTTP, with the privacy
key), the read model is anonymised, `application.erased` does the same for erasures that start elsewhere."""
from __future__ import annotations

import dataclasses
import io
import json
import threading
import zipfile

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from services.intake import create_app as create_intake
from services.intake.db import db as intake_db
from services.intake.programme.service import seed_call
from services.notify.mailcatcher import free_port
from services.review.applications.models import Application
from services.review.audit.models import AuditEntry
from services.review.db import db
from shared.db import utcnow
from shared.migrate import upgrade
from tests.factories import application_payload, make_pdf, multipart
from tests.integration.review.conftest import (bearer, csrf_token, envelope, signed_in, status_changed, submitted,
                                               token_for)


@pytest.fixture
def live_intake(settings):
    """intake on loopback (SQLite), with one submitted application; yields (url, reference)."""
    port = free_port()
    upgrade("intake", settings.intake_database_url)
    intake_settings = dataclasses.replace(settings, intake_url=f"http://127.0.0.1:{port}")
    app = create_intake(intake_settings)
    with app.app_context():
        seed_call(session=intake_db.session, deadline=settings.call_deadline)
        intake_db.session.commit()
    body = app.test_client().post("/api/v1/applications", content_type="multipart/form-data", data=multipart(
        application_payload(given_name="Mira", family_name="Kovac", email="mira.kovac@example.org"),
        cv=make_pdf("CV of Mira Kovac"), academic_proof=make_pdf("Proof"))).get_json()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", body["reference"]
    finally:
        server.shutdown()
        thread.join(10)
        intake_db.session.remove()
        intake_db.engine.dispose()


@pytest.fixture
def review_settings(settings, review_database_url, live_intake):
    return dataclasses.replace(settings, review_database_url=review_database_url, intake_url=live_intake[0])


@pytest.fixture
def reference(live_intake, deliver):
    """The live application, as review's read model has it from intake's events."""
    reference = live_intake[1]
    deliver(submitted(reference, given_name="Mira", family_name="Kovac"), status_changed(reference, "under_review",
                                                                                         name="Mira Kovac"))
    return reference


def row(app, reference):
    with app.app_context():
        return db.session.scalar(select(Application).where(Application.reference == reference))


def test_an_admin_erases_through_the_api(app, api, reference, make_user):
    make_user("rev@example.org", role="reviewer", departments=["polsci"])
    client = app.test_client()
    refused = client.post(f"/api/v1/applications/{reference}/erase", json={"reason": "asked by letter"},
                          headers=bearer(token_for(client, "rev@example.org")))
    assert refused.status_code == 403
    no_reason = client.post(f"/api/v1/applications/{reference}/erase", json={}, headers=api)
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["error"]["fields"]

    done = client.post(f"/api/v1/applications/{reference}/erase", json={"reason": "asked by letter"}, headers=api)

    assert done.status_code == 200, done.get_json()
    assert done.get_json()["status"] == "erased"
    erased = row(app, reference)
    assert erased.erased_at is not None and erased.name == "(erased)"
    assert (erased.email, erased.date_of_birth, erased.nationality, erased.education) == (None, None, None, None)
    assert erased.status == "under_review" and erased.department_codes == ["it"]
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "application.erased"))
    assert (entry.actor, entry.reference, entry.details) == ("admin@example.org", reference,
                                                            {"reason": "asked by letter"})
    detail = client.get(f"/api/v1/applications/{reference}", headers=api).get_json()
    assert detail["name"] == "(erased)"
    again = client.post(f"/api/v1/applications/{reference}/erase", json={"reason": "asked by letter"}, headers=api)
    assert again.status_code == 200


def test_the_admin_page_exports_then_erases(app, admin, reference):
    browser = signed_in(app, admin)
    page = browser.get(f"/applications/{reference}").get_data(as_text=True)
    assert "Export personal data" in page and "Erase personal data" in page

    export = browser.get(f"/applications/{reference}/export.zip")
    assert export.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(export.data))
    assert json.loads(archive.read("application.json"))["email"] == "mira.kovac@example.org"
    assert archive.read("documents/cv-cv.pdf").startswith(b"%PDF")
    assert [v["what"] for v in json.loads(archive.read("access_log.json"))][-1] == "application.exported"

    erased = browser.post(f"/applications/{reference}/erase", data={"reason": "the candidate asked",
                                                                    "csrf_token": csrf_token(page)})
    assert erased.status_code == 302
    after = browser.get(f"/applications/{reference}").get_data(as_text=True)
    assert "Erased" in after and "mira.kovac@example.org" not in after and "Mira Kovac" not in after
    gone = browser.get(f"/applications/{reference}/export.zip")
    assert gone.status_code == 410


def test_statistics_are_for_admins(app, admin, reference, make_user):
    make_user("coord@example.org", role="coordinator", departments=["it"])
    assert signed_in(app, "coord@example.org").get("/statistics").status_code == 403
    page = signed_in(app, admin).get("/statistics").get_data(as_text=True)
    assert "By department" in page and "By education level" in page


def test_erasure_reports_an_unreachable_intake(app, api, reference, review_settings):
    app.config["SETTINGS"] = dataclasses.replace(review_settings, intake_url=f"http://127.0.0.1:{free_port()}")
    response = app.test_client().post(f"/api/v1/applications/{reference}/erase", json={"reason": "asked twice"},
                                      headers=api)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "intake_unavailable"
    assert row(app, reference).erased_at is None


def test_the_erased_event_anonymises_and_late_events_do_not_bring_the_person_back(app, deliver):
    reference = "NIP27-ERAS-EDEV"
    deliver(submitted(reference), status_changed(reference, "under_review"))
    erased = envelope("application.erased", {"reference": reference, "erased_at": utcnow(), "reason": "retention"})
    assert deliver(erased, erased) == [True, False]
    deliver(status_changed(reference, "withdrawn"))
    late = row(app, reference)
    assert late.name == "(erased)" and late.email is None and late.status == "under_review"
