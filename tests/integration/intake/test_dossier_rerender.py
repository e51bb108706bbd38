"""Documents added to an incomplete application: the dossier is rebuilt under the same key, a new
`dossier.rendered` carries its new pages and checksum, and review's own handler then shows the new one."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json

import pytest
from sqlalchemy import select

from services.intake.applications.models import Application
from services.intake.applications.tasks import check_application
from services.intake.db import OUTBOX
from services.intake.dossier.tasks import render_dossier_task
from services.review import create_app as create_review_app
from services.review.applications.models import Application as ReviewedApplication
from services.review.applications.tasks import handle_event
from services.review.db import db as review_db
from shared.documents import DocumentStore
from tests.conftest import migrated_database, rolled_back
from tests.factories import make_pdf, multipart


@pytest.fixture(scope="module")
def review_database_url():
    return migrated_database("review", "_intake_rerender")


@pytest.fixture
def review_app(settings, review_database_url):
    app = create_review_app(dataclasses.replace(settings, review_database_url=review_database_url))
    with rolled_back(review_db):
        yield app


def rendered_envelopes(session, reference: str) -> list[dict]:
    bodies = session.execute(select(OUTBOX.c.body).where(OUTBOX.c.event_type == "dossier.rendered")
                             .order_by(OUTBOX.c.id)).scalars()
    return [e for e in (json.loads(body)[0] for body in bodies) if e["data"]["reference"] == reference]


def test_documents_added_while_incomplete_rebuild_the_dossier_and_review_shows_the_new_one(
        client, session, settings, pdf, proof, review_app):
    response = client.post("/api/v1/applications", content_type="multipart/form-data",
                           data=multipart(cv=pdf, academic_proof=proof)).get_json()
    reference, auth = response["reference"], {"Authorization": f"Bearer {response['token']}"}
    store = DocumentStore(settings.documents_dir)
    application = session.scalars(select(Application).where(Application.reference == reference)).one()
    store.delete(application.document("academic_proof").key)  # lost: the application becomes incomplete
    assert check_application.run(reference) == "incomplete"
    key = render_dossier_task.run(reference)

    added = client.post(f"/api/v1/applications/{reference}/documents", headers=auth,
                        content_type="multipart/form-data",
                        data={"academic_proof": (io.BytesIO(make_pdf("New certificate of enrolment", pages=3)),
                                                 "proof.pdf")})
    assert added.status_code == 200, added.get_json()
    assert check_application.run(reference) == "under_review"
    assert render_dossier_task.run(reference) == key

    before, after = (e["data"] for e in rendered_envelopes(session, reference))
    assert before["dossier_key"] == after["dossier_key"] == key
    assert [f["code"] for f in before["flags"]] == ["document_missing"] and after["flags"] == []
    assert after["pages"] == before["pages"] + 3 and after["sha256"] != before["sha256"]
    assert hashlib.sha256(store.read(key)).hexdigest() == after["sha256"]
    assert after["blind_dossier_key"] == before["blind_dossier_key"] and after["blind_sha256"] != before["blind_sha256"]

    with review_app.app_context():
        for envelope in rendered_envelopes(session, reference):
            handle_event(envelope)
        shown = review_db.session.scalars(select(ReviewedApplication)
                                          .where(ReviewedApplication.reference == reference)).one()
        assert (shown.dossier_key, shown.dossier_pages, shown.dossier_sha256) == (key, after["pages"], after["sha256"])
        assert (shown.blind_dossier_pages, shown.blind_dossier_sha256) == (after["blind_pages"], after["blind_sha256"])
        assert shown.dossier_flags == []
