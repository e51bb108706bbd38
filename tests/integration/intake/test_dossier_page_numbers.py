"""Page numbers of the dossier: every page, summary and appended alike, says "REF · page i of N", in order,
whatever the size or rotation of the uploaded pages, with the summary laid out by WeasyPrint once."""
from __future__ import annotations

import io

from pypdf import PdfReader, PdfWriter
from weasyprint import HTML

from services.intake.dossier import render
from services.intake.dossier.render import Attachment, render_dossier
from services.intake.programme.defaults import DOCX
from tests.factories import make_docx, make_pdf
from tests.integration.intake.test_dossier_safety import CONTEXT

REFERENCE = CONTEXT["reference"]


def letter_rotated(pages: int) -> bytes:
    """US Letter pages, the second one rotated: not the A4 the summary is laid out on."""
    writer = PdfWriter()
    source = PdfReader(io.BytesIO(HTML(string="<style>@page{size:letter}</style>" + "<p style='page-break-after:"
                                       "always'>Letter</p>" * pages).write_pdf()))
    for number, page in enumerate(source.pages):
        writer.add_page(page)
        if number == 1:
            writer.pages[-1].rotate(90)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_every_page_carries_the_reference_and_its_number_of_the_total():
    rendered = render_dossier(context=CONTEXT, attachments=[
        Attachment("Curriculum vitae", make_pdf("Curriculum vitae", pages=3)),
        Attachment("Letter", letter_rotated(2)), Attachment("Word CV", None)], reference=REFERENCE)
    reader = PdfReader(io.BytesIO(rendered.pdf))
    total = len(reader.pages)
    assert rendered.pages == total >= 1 + 3 + 2
    for number, page in enumerate(reader.pages, start=1):
        assert f"{REFERENCE} · page {number} of {total}" in page.extract_text(), number


def test_one_html_layout_per_dossier_holds_both_summaries_and_the_converted_word_documents(monkeypatch):
    # counts real WeasyPrint runs: the page numbers, the blind summary and each DOCX could each have been one
    rendered_html = []
    real = render.layout
    monkeypatch.setattr(render, "layout", lambda html: rendered_html.append(html) or real(html))
    rendered = render_dossier(context=CONTEXT, attachments=[
        Attachment("Curriculum vitae", make_docx("Quokka keeper"), DOCX, "cv.docx"),
        Attachment("Proof", make_pdf("Proof", pages=4))], reference=REFERENCE)
    assert len(rendered_html) == 1
    assert rendered_html[0].count(REFERENCE) >= 2 and "Quokka keeper" in rendered_html[0]
    assert "Quokka keeper" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(rendered.blind.pdf)).pages)


def test_the_stylesheet_and_fonts_are_parsed_once_per_process():
    first = render._style()
    render_dossier(context=CONTEXT, attachments=[], reference=REFERENCE)
    assert render._style()[0] is first[0] and render._style()[1] is first[1]
