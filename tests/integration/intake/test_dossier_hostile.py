"""Hostile and malformed PDFs made here, in the renderer's hands as if inspection had missed them: each ends as
"document unreadable" for staff, the dossier is rendered without it, and the next dossier renders as usual."""
from __future__ import annotations

import io
import json
import signal

import pytest
from billiard.exceptions import SoftTimeLimitExceeded
from pypdf import PdfReader
from sqlalchemy import select

from services.intake.applications.models import Application
from services.intake.applications.tasks import check_application
from services.intake.db import OUTBOX
from services.intake.dossier import render
from services.intake.dossier.render import Attachment, render_dossier
from services.intake.dossier.tasks import render_dossier_task
from services.intake.programme.defaults import DOCX
from shared.documents import DocumentStore
from tests import hostile
from tests.factories import application_payload, make_docx, make_pdf, multipart
from tests.integration.intake.test_dossier_safety import CONTEXT

REFERENCE = CONTEXT["reference"]


def titles(pdf: bytes) -> list[str]:
    return [item.title for item in PdfReader(io.BytesIO(pdf)).outline]


def assert_renders_normally():
    """What a worker does next: a dossier of ordinary documents."""
    rendered = render_dossier(context=CONTEXT, attachments=[Attachment("Proof", make_pdf("Certificate", pages=2))],
                              reference=REFERENCE)
    assert rendered.flags == () and titles(rendered.pdf) == ["Summary", "Proof"]


@pytest.mark.parametrize("name", sorted(hostile.UNREADABLE_PDFS))
def test_hostile_pdf_ends_as_document_unreadable_and_the_dossier_is_rendered_without_it(name):
    rendered = render_dossier(context=CONTEXT, attachments=[
        Attachment("Curriculum vitae", make_pdf("Curriculum vitae")),
        Attachment("Language certificate", hostile.UNREADABLE_PDFS[name]())], reference=REFERENCE)
    assert [(f["code"], f["message"].split(":")[0]) for f in rendered.flags] == [
        ("document_unreadable", "Language certificate")]
    for pdf in (rendered.pdf, rendered.blind.pdf):
        assert titles(pdf) == ["Summary", "Curriculum vitae"]
        summary = PdfReader(io.BytesIO(pdf)).pages[0].extract_text().replace("\n", " ")
        assert "Language certificate: language_certificate.pdf" not in summary  # no file name was given
        assert "the PDF could not be read" in summary
    assert_renders_normally()


def test_a_document_that_outlasts_the_soft_time_limit_is_left_out_and_the_render_finishes(monkeypatch):
    assert_renders_normally()  # fonts and stylesheet loaded: what remains after the limit is quick

    def soft_limit(*_):
        # what Celery's soft time limit does to the task: an exception raised wherever it is
        raise SoftTimeLimitExceeded()

    real_open = render._open_pdf

    def open_near_the_limit(data: bytes, inspected_pages: int | None):
        # the limit falls while the PDF is being read (measuring the bomb takes far longer than 10 ms)
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        try:
            return real_open(data, inspected_pages)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    bomb = hostile.decompression_bomb()
    previous = signal.signal(signal.SIGALRM, soft_limit)
    monkeypatch.setattr(render, "_open_pdf", open_near_the_limit)
    try:
        rendered = render_dossier(context=CONTEXT, attachments=[Attachment("Proof", bomb)], reference=REFERENCE)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert [f["code"] for f in rendered.flags] == ["document_unreadable"]
    assert titles(rendered.pdf) == ["Summary"]
    monkeypatch.undo()
    assert_renders_normally()


def test_a_page_count_other_than_the_one_inspected_is_unreadable():
    # qpdf must find the very pages inspection counted: a file the two read differently is not copied
    rendered = render_dossier(context=CONTEXT, attachments=[
        Attachment("Proof", make_pdf("Certificate", pages=2), inspected_pages=3)], reference=REFERENCE)
    assert [f["code"] for f in rendered.flags] == ["document_unreadable"]
    assert titles(rendered.pdf) == ["Summary"]


def test_render_task_flags_the_unreadable_document_for_staff_and_the_next_dossier_renders(
        client, session, settings, pdf, proof):
    store = DocumentStore(settings.documents_dir)
    first, second = [client.post("/api/v1/applications", content_type="multipart/form-data", data=multipart(
        application_payload(given_name=name, email=f"{name.lower()}@example.org"), cv=pdf, academic_proof=proof,
        **({"language_certificate": make_pdf("DELF B2")} if name == "Ana" else {}))).get_json()["reference"]
        for name in ("Ana", "Ioana")]
    for reference in (first, second):
        assert check_application.run(reference) == "under_review"
    application = session.scalars(select(Application).where(Application.reference == first)).one()
    store.put_at(application.document("language_certificate").key, hostile.page_tree_loop())  # changed since

    assert render_dossier_task.run(first) == f"dossiers/{first.lower()}.pdf"
    session.refresh(application)
    assert [f["code"] for f in application.dossier_flags] == ["document_unreadable"]
    bodies = session.execute(select(OUTBOX.c.body).where(OUTBOX.c.event_type == "dossier.rendered")).scalars()
    [event] = [json.loads(body)[0]["data"] for body in bodies]
    assert event["flags"] == application.dossier_flags and event["pages"] == application.dossier_pages
    assert titles(store.read(application.dossier_key)) == ["Summary", "Curriculum vitae", "Proof of studies or degree"]

    assert render_dossier_task.run(second) == f"dossiers/{second.lower()}.pdf"
    other = session.scalars(select(Application).where(Application.reference == second)).one()
    assert other.dossier_flags == [] and other.dossier_pages >= 4


def test_a_word_document_whose_layout_outlasts_the_soft_time_limit_is_left_out_and_the_render_finishes(
        monkeypatch):
    real_layout = render.layout

    def slow_with_word_documents(html: str):
        if 'class="converted"' in html:  # the limit falls while the Word document is laid out
            raise SoftTimeLimitExceeded()
        return real_layout(html)

    monkeypatch.setattr(render, "layout", slow_with_word_documents)
    rendered = render_dossier(context=CONTEXT, attachments=[
        Attachment("Curriculum vitae", make_docx("Volunteer translator"), DOCX, "cv.docx"),
        Attachment("Proof", make_pdf("Certificate"))], reference=REFERENCE)
    assert [(f["code"], f["message"].split(":")[0]) for f in rendered.flags] == [
        ("document_not_converted", "Curriculum vitae")]
    assert titles(rendered.pdf) == titles(rendered.blind.pdf) == ["Summary", "Proof"]
    summary = PdfReader(io.BytesIO(rendered.pdf)).pages[0].extract_text().replace("\n", " ")
    assert "the Word document could not be converted" in summary


def referring_to_everything(objects: int) -> bytes:
    """A page whose resources name `objects` small arrays that are also a chain, each holding the next: qpdf
    copies and writes by recursion, and a chain of 100,000 overflowed a worker's stack (a dead worker)."""
    first = 5
    names = b" ".join(b"/X%d %d 0 R" % (n, n) for n in range(first, first + objects))
    chain = [b"[%d 0 R]" % (n + 1) for n in range(first, first + objects - 1)] + [b"[]"]
    return hostile._catalog(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources 4 0 R >>",
                            b"<< /Properties << " + names + b" >> >>", *chain)


def test_a_pdf_whose_pages_lead_to_too_many_objects_is_unreadable_however_shallow_it_looks():
    # each object is named by the page itself (one level deep), so only the count of what a copy reaches bounds it
    rendered = render_dossier(context=CONTEXT, attachments=[
        Attachment("Proof", referring_to_everything(render.MAX_COPIED_OBJECTS + 1))], reference=REFERENCE)
    assert [f["code"] for f in rendered.flags] == ["document_unreadable"]
    assert titles(rendered.pdf) == ["Summary"]
    assert_renders_normally()


def test_a_pdf_within_the_copy_bounds_is_appended():
    rendered = render_dossier(context=CONTEXT, attachments=[
        Attachment("Proof", referring_to_everything(render.MAX_NESTING - 10))], reference=REFERENCE)
    assert rendered.flags == () and titles(rendered.pdf) == ["Summary", "Proof"]
