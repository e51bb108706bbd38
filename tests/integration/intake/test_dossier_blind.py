"""The blind dossier beside the full one: rendered by the same task, stored under its own deterministic key,
announced in `dossier.rendered`, and with none of the candidate's personal fields in its text."""
from __future__ import annotations

import io
import json

from pypdf import PdfReader
from sqlalchemy import select

from services.intake.applications.models import Application
from services.intake.applications.tasks import check_application
from services.intake.db import OUTBOX
from services.intake.dossier.render import BLIND_NOTICE, Attachment, render_dossier
from services.intake.dossier.tasks import render_dossier_task
from services.intake.programme.defaults import DOCX
from shared.documents import DocumentStore
from tests.factories import application_payload, make_docx, make_pdf, multipart
from tests.integration.intake.test_dossier_docx import png, word_cv
from tests.integration.intake.test_dossier_safety import CONTEXT

PERSON = {"given_name": "Zuzanna", "family_name": "Wroblewska", "email": "zuzanna.wroblewska@example.org",
          "date_of_birth": "2001-09-23", "nationality": "PL"}


def rendered_events(session, reference: str) -> list[dict]:
    bodies = session.execute(select(OUTBOX.c.body).where(OUTBOX.c.event_type == "dossier.rendered")
                             .order_by(OUTBOX.c.id)).scalars()
    events = [json.loads(body)[0]["data"] for body in bodies]  # the body is the Celery message's arguments
    return [data for data in events if data["reference"] == reference]


def test_the_blind_dossier_has_none_of_the_candidates_personal_fields(client, session, settings):
    data = multipart(application_payload(**PERSON), academic_proof=make_pdf("Certificate of enrolment"),
                     language_certificate=make_pdf("DELF B2", pages=2))
    data["cv"] = (io.BytesIO(make_docx("Volunteer translator")), "Zuzanna_Wroblewska_CV.docx")
    reference = client.post("/api/v1/applications", data=data, content_type="multipart/form-data").get_json()[
        "reference"]
    check_application.run(reference)
    render_dossier_task.run(reference)

    application = session.scalars(select(Application).where(Application.reference == reference)).one()
    [event] = rendered_events(session, reference)
    assert event["blind_dossier_key"] == application.blind_dossier_key == f"dossiers/{reference.lower()}-blind.pdf"
    store = DocumentStore(settings.documents_dir)
    full, blind = store.read(application.dossier_key), store.read(application.blind_dossier_key)
    assert event["blind_pages"] == application.blind_dossier_pages == len(PdfReader(io.BytesIO(blind)).pages)
    assert event["flags"] == [] and len(event["blind_sha256"]) == 64 and event["blind_sha256"] != event["sha256"]

    full_text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(full)).pages)
    reader = PdfReader(io.BytesIO(blind))
    blind_text = " ".join(page.extract_text() for page in reader.pages)
    personal = ["Zuzanna", "Wroblewska", PERSON["email"], "2001-09-23", "Nationality", "Date of birth", "(age "]
    assert all(value in full_text for value in personal[:5])  # the full one has them: the test can fail
    assert [value for value in personal if value in blind_text] == []
    assert reference in blind_text and "Volunteer translator" in blind_text and "DELF B2" in blind_text

    # the notice on the first page of each appended document, nowhere else
    starts = {item.title: reader.get_destination_page_number(item) for item in reader.outline}
    assert list(starts) == ["Summary", "Curriculum vitae", "Proof of studies or degree", "Language certificate"]
    noticed = [n for n, page in enumerate(reader.pages) if BLIND_NOTICE in page.extract_text()]
    assert noticed == list(starts.values())[1:]
    assert BLIND_NOTICE not in full_text


def images_in(pdf: bytes) -> list[tuple[int, int]]:
    """(width, height) of every image object stored in the file, drawn or not."""
    reader = PdfReader(io.BytesIO(pdf))
    objects = [reader.get_object(idnum) for generation in reader.xref.values() for idnum in generation]
    return sorted((int(o["/Width"]), int(o["/Height"])) for o in objects
                  if hasattr(o, "get") and o.get("/Subtype") == "/Image")


def test_a_photo_in_a_word_cv_is_in_the_full_dossier_and_nowhere_in_the_blind_one():
    photo = word_cv(picture=png(40, 30))
    rendered = render_dossier(context=CONTEXT, attachments=[
        Attachment("Curriculum vitae", photo, DOCX, "cv.docx"),
        Attachment("Proof of studies", make_pdf("Certificate of enrolment"))], reference=CONTEXT["reference"])

    assert images_in(rendered.pdf) == [(40, 30)]  # the full one shows it: the test can fail
    assert images_in(rendered.blind.pdf) == [(1, 1)]  # a grey box where the photo was, the photo not in the file
    blind_text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(rendered.blind.pdf)).pages)
    assert "Quokka Foundation" in blind_text and "Certificate of enrolment" in blind_text
    assert rendered.blind.pages == rendered.pages


def test_the_blind_dossier_does_not_name_the_applications_a_possible_duplicate_points_to():
    duplicate = {"code": "possible_duplicate", "message": "Possibly the same person as NIP27-OTHER-0042: same email, "
                                                          "or same name and date of birth."}
    missing = {"code": "missing_document", "message": "Proof of study is missing."}
    rendered = render_dossier(context={**CONTEXT, "problems": [duplicate, missing]},
                              attachments=[Attachment("Curriculum vitae", make_pdf("CV"), "application/pdf", "cv.pdf")],
                              reference=CONTEXT["reference"])

    def text(pdf: bytes) -> str:
        return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)

    assert "NIP27-OTHER-0042" in text(rendered.pdf)  # staff who see the person see the link between applications
    blind = text(rendered.blind.pdf)
    assert "NIP27-OTHER-0042" not in blind and "possible_duplicate" not in blind
    assert "Proof of study is missing." in blind
