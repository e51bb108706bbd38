"""Hostile uploads through intake's real API and form (PostgreSQL, the document store): each is refused
with a 4xx, the JSON error shape and its reason code, and nothing is stored."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from services.intake.access.models import HeldUpload
from services.intake.applications.models import Application
from services.intake.applications.tasks import check_application
from services.intake.db import OUTBOX
from shared.documents import DocumentStore
from tests import hostile
from tests.factories import application_payload, multipart

CASES = {name: (build, 422, code) for name, (build, code) in hostile.HOSTILE_PDFS.items()}
CASES.update({
    "html_before_header": (hostile.html_before_header, 415, "document_data_before_header"),
    "decompression_bomb": (hostile.decompression_bomb, 422, "document_expands_too_much"),
    "past_pypdf_limits": (hostile.limit_reaching_pdf, 422, "document_too_complex"),
})
DOCX_CASES = {
    "lying_size": (hostile.docx_with_lying_size, "document_archive_bomb"),
    "remote_template": (hostile.docx_with_remote_template, "document_external_content"),
    "remote_object": (hostile.docx_with_remote_object, "document_external_content"),
    "dde_field": (hostile.docx_with_dde, "document_active_content"),
    "remote_picture_field": (hostile.docx_with_remote_picture, "document_external_content"),
    # archives judged before anything opens them
    "absolute_member_name": (lambda: hostile.docx_with_member("/etc/cron.d/evil"), "document_archive_unsafe_names"),
    "climbing_member_name": (lambda: hostile.docx_with_member("word/../../evil.sh"), "document_archive_unsafe_names"),
    "drive_member_name": (lambda: hostile.docx_with_member("C:\\evil.bat"), "document_archive_unsafe_names"),
    "backslash_climbing_name": (lambda: hostile.docx_with_member("word\\..\\..\\evil"),
                                "document_archive_unsafe_names"),
    "too_many_members": (hostile.docx_with_many_members, "document_archive_bomb"),
    "too_large_unpacked": (hostile.docx_too_large_unpacked, "document_archive_bomb"),
}


def submit(client, data):
    return client.post("/api/v1/applications", data=data, content_type="multipart/form-data")


def assert_nothing_stored(session, settings):
    assert session.scalar(select(func.count()).select_from(Application)) == 0
    assert session.scalar(select(func.count()).select_from(OUTBOX)) == 0
    assert not (settings.documents_dir / "uploads").exists()


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_pdf_is_refused_with_its_reason_code(client, session, settings, pdf, name):
    build, status, code = CASES[name]
    response = submit(client, multipart(cv=pdf, academic_proof=build()))
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["code"] == ("invalid_documents" if status == 422 else code) and error["message"]
    assert error["reasons"] == {"academic_proof": code}
    assert error["fields"]["academic_proof"][0].startswith("Proof of studies or degree: ")
    assert_nothing_stored(session, settings)


@pytest.mark.parametrize("name", sorted(DOCX_CASES))
def test_hostile_docx_cv_is_refused_with_its_reason_code(client, session, settings, proof, name):
    build, code = DOCX_CASES[name]
    data = multipart(academic_proof=proof)
    data["cv"] = (io.BytesIO(build()), "cv.docx")
    response = submit(client, data)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["code"] == "invalid_documents" and error["reasons"] == {"cv": code}
    assert_nothing_stored(session, settings)


def test_every_refused_document_gets_its_own_code(client, session, settings):
    response = submit(client, multipart(cv=hostile.javascript_behind_next_chain(),
                                        academic_proof=hostile.embedded_files_name_tree()))
    assert response.status_code == 422
    assert response.get_json()["error"]["reasons"] == {"cv": "document_active_content",
                                                       "academic_proof": "document_embedded_files"}
    assert_nothing_stored(session, settings)


def test_stored_file_accepted_under_older_rules_is_caught_at_the_check_and_cannot_be_replaced_by_another(
        client, session, settings, pdf, proof):
    created = submit(client, multipart(cv=pdf, academic_proof=proof)).get_json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    application = session.scalars(select(Application).where(Application.reference == created["reference"])).one()
    store = DocumentStore(settings.documents_dir)
    store.put_at(application.document("academic_proof").key, hostile.launch_inside_chain())  # the old rules let it in
    assert check_application.run(created["reference"]) == "incomplete"
    status = client.get(f"/api/v1/applications/{created['reference']}", headers=auth).get_json()
    assert [p["code"] for p in status["problems"]] == ["document_active_content"]

    stored = sorted(p.name for p in (settings.documents_dir / "uploads").rglob("*") if p.is_file())
    response = client.post(f"/api/v1/applications/{created['reference']}/documents", headers=auth,
                           data={"academic_proof": (io.BytesIO(hostile.annotation_additional_action()), "p.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.get_json()["error"]["reasons"] == {"academic_proof": "document_active_content"}
    assert sorted(p.name for p in (settings.documents_dir / "uploads").rglob("*") if p.is_file()) == stored


def test_the_form_explains_a_refusal_in_words(client, session, settings, pdf):
    page = client.get("/apply").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    payload = application_payload()
    form = {"given_name": payload["given_name"], "family_name": payload["family_name"], "email": payload["email"],
            "date_of_birth": payload["date_of_birth"], "nationality": payload["nationality"],
            "languages.en": "C1", "languages.fr": "B1", "education.institution": "University of Bucharest",
            "education.degree_level": "master", "education.field_of_study": "International relations",
            "education.status": "enrolled", "education.year_of_study": "4", "department1": "polsci",
            "session": "september", "motivation": payload["motivation"], "correspondence_language": "en",
            "consent": "yes", "cv": (io.BytesIO(pdf), "cv.pdf"),
            "academic_proof": (io.BytesIO(hostile.limit_reaching_pdf()), "proof.pdf")}
    if token:
        form["csrf_token"] = token.group(1)
    response = client.post("/apply", data=form, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Proof of studies or degree: the file is too complex to process; export it again or print it to a " \
        "new PDF." in response.get_data(as_text=True)
    # no application, no event; only the accepted CV is held for the next try, the refused proof is not kept
    assert session.scalar(select(func.count()).select_from(Application)) == 0
    assert session.scalar(select(func.count()).select_from(OUTBOX)) == 0
    assert [held.kind for held in session.scalars(select(HeldUpload))] == ["cv"]
