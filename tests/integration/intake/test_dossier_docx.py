"""Word documents in the dossier: a real DOCX (python-docx) converted, sanitised and laid out with the summary,
under its own bookmark and numbered like every other page; one that cannot be converted is named and flagged."""
from __future__ import annotations

import base64
import io
import re
import zipfile

import mammoth
from docx import Document
from docx.enum.text import WD_BREAK
from docx.shared import Cm
from PIL import Image
from pypdf import PdfReader

from services.intake.dossier.render import Attachment, convert_docx, render_dossier
from services.intake.programme.defaults import DOCX, PDF
from tests import hostile
from tests.factories import make_docx, make_pdf
from tests.integration.intake.test_dossier_safety import CONTEXT

REFERENCE = CONTEXT["reference"]


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), "white" if mode == "RGB" else 1).save(buffer, "PNG")
    return buffer.getvalue()


def word_cv(*, pages: int = 1, picture: bytes | None = None) -> bytes:
    """A CV as Word writes it: headings, paragraphs, a table, page breaks, optionally a picture."""
    document = Document()
    document.add_heading("Curriculum vitae", level=1)
    document.add_paragraph("Volunteer translator at the Quokka Foundation, Brussels.")
    table = document.add_table(rows=2, cols=2)
    for row, (year, what) in enumerate([("2024", "Model NATO summit"), ("2025", "Erasmus in Tartu")]):
        table.cell(row, 0).text, table.cell(row, 1).text = year, what
    if picture is not None:
        document.add_picture(io.BytesIO(picture), width=Cm(3))
    for number in range(2, pages + 1):
        document.paragraphs[-1].add_run().add_break(WD_BREAK.PAGE)
        document.add_paragraph(f"Continued on page {number} of the CV")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def text_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def bookmarks(pdf: bytes) -> dict[str, int]:
    reader = PdfReader(io.BytesIO(pdf))
    return {item.title: reader.get_destination_page_number(item) for item in reader.outline}


def test_the_words_of_a_real_word_cv_are_in_the_dossier():
    rendered = render_dossier(context=CONTEXT, attachments=[
        Attachment("Curriculum vitae", word_cv(), DOCX, "cv.docx")], reference=REFERENCE)
    pages = text_of(rendered.pdf)
    cv = pages[bookmarks(rendered.pdf)["Curriculum vitae"]]
    for words in ("Volunteer translator at the Quokka Foundation", "Model NATO summit", "Erasmus in Tartu"):
        assert words in cv
    assert "Word document, converted and appended" in pages[0] and rendered.flags == ()


def test_bookmarks_and_page_x_of_y_on_every_page_of_a_dossier_mixing_pdf_and_docx():
    rendered = render_dossier(context=CONTEXT, attachments=[
        Attachment("Curriculum vitae", word_cv(pages=3), DOCX, "cv.docx"),
        Attachment("Proof of studies", make_pdf("Certificate of enrolment", pages=2), PDF, "proof.pdf"),
        Attachment("Motivation letter", make_docx("Why the Quokka programme"), DOCX, "letter.docx")],
        reference=REFERENCE)
    for pdf in (rendered.pdf, rendered.blind.pdf):
        pages = text_of(pdf)
        total = len(pages)
        marks = bookmarks(pdf)
        assert list(marks) == ["Summary", "Curriculum vitae", "Proof of studies", "Motivation letter"]
        assert marks["Summary"] == 0 < marks["Curriculum vitae"]
        assert marks["Proof of studies"] - marks["Curriculum vitae"] == 3  # the CV's three pages
        assert marks["Motivation letter"] - marks["Proof of studies"] == 2 and marks["Motivation letter"] == total - 1
        assert "Continued on page 3 of the CV" in pages[marks["Proof of studies"] - 1]
        assert "Certificate of enrolment" in pages[marks["Proof of studies"]]
        assert "Why the Quokka programme" in pages[-1]
        for number, text in enumerate(pages, start=1):
            assert f"{REFERENCE} · page {number} of {total}" in text, number


def test_a_word_document_that_cannot_be_converted_is_named_and_flagged_never_a_failed_render():
    broken = hostile.docx_with_member("word/document.xml", b"<w:document><w:body>not closed")
    rendered = render_dossier(context=CONTEXT, attachments=[
        Attachment("Curriculum vitae", broken, DOCX, "cv.docx"),
        Attachment("Proof of studies", make_pdf("Certificate of enrolment"), PDF, "proof.pdf")], reference=REFERENCE)
    assert [f["code"] for f in rendered.flags] == ["document_not_converted"]
    assert rendered.flags[0]["message"].startswith("Curriculum vitae: ")
    assert list(bookmarks(rendered.pdf)) == ["Summary", "Proof of studies"]
    summary = "".join(text_of(rendered.pdf)[:bookmarks(rendered.pdf)["Proof of studies"]])
    assert "Word document could not be converted" in summary.replace("\n", " ")


def test_pictures_are_inlined_when_small_and_dropped_when_their_canvas_is_huge():
    small = render_dossier(context=CONTEXT, attachments=[
        Attachment("Curriculum vitae", word_cv(picture=png(40, 40)), DOCX, "cv.docx")], reference=REFERENCE)
    reader = PdfReader(io.BytesIO(small.pdf))
    cv = reader.pages[bookmarks(small.pdf)["Curriculum vitae"]]
    assert _has_image(cv)

    # 6000 × 5000 one-bit pixels: a few kilobytes stored, 30 megapixels once decoded
    huge = render_dossier(context=CONTEXT, attachments=[
        Attachment("Curriculum vitae", word_cv(picture=png(6000, 5000, mode="1")), DOCX, "cv.docx")],
        reference=REFERENCE)
    cv_text = text_of(huge.pdf)[bookmarks(huge.pdf)["Curriculum vitae"]]
    assert "[image not shown]" in cv_text and "Quokka Foundation" in cv_text


def _has_image(page) -> bool:
    # WeasyPrint may wrap the picture in a form XObject of its own
    stack = [page["/Resources"]]
    while stack:
        resources = stack.pop()
        for item in resources.get("/XObject", {}).values():
            item = item.get_object()
            if item.get("/Subtype") == "/Image":
                return True
            if "/Resources" in item:
                stack.append(item["/Resources"].get_object())
    return False


def test_a_converted_word_document_keeps_no_link_and_loads_nothing():
    body = (f'<?xml version="1.0"?><w:document xmlns:w="{hostile.W}" xmlns:r="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships"><w:body><w:p><w:hyperlink r:id="rId3"><w:r><w:t>my portfolio</w:t>'
            '</w:r></w:hyperlink></w:p><w:p><w:r><w:t>&lt;script&gt;alert(1)&lt;/script&gt;</w:t></w:r></w:p>'
            '</w:body></w:document>')
    source = zipfile.ZipFile(io.BytesIO(hostile.docx_with_hyperlink("http://127.0.0.1:9/track")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info in source.infolist():
            archive.writestr(info.filename, body if info.filename == "word/document.xml" else source.read(info))
    rendered = render_dossier(context=CONTEXT, attachments=[
        Attachment("Curriculum vitae", buffer.getvalue(), DOCX, "cv.docx")], reference=REFERENCE)
    reader = PdfReader(io.BytesIO(rendered.pdf))
    page = reader.pages[bookmarks(rendered.pdf)["Curriculum vitae"]]
    assert "my portfolio" in page.extract_text() and "<script>alert(1)</script>" in page.extract_text()
    assert all("/Annots" not in p for p in reader.pages) and b"127.0.0.1:9" not in rendered.pdf


def linked_picture_cv(target: str) -> bytes:
    """A Word CV whose picture is not embedded but linked (`r:link`, TargetMode External) to `target`."""
    source = zipfile.ZipFile(io.BytesIO(word_cv(picture=png(40, 40))))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                data = data.replace(b'r:embed="', b'r:link="')
            elif info.filename == "word/_rels/document.xml.rels":
                data = re.sub(rb'Target="media/[^"]+"', f'Target="{target}" TargetMode="External"'.encode(), data)
            archive.writestr(info.filename, data)
    return buffer.getvalue()


def test_a_picture_linked_to_a_file_on_the_worker_is_never_read(tmp_path, monkeypatch):
    secret = tmp_path / "secret.png"
    secret.write_bytes(png(30, 30, "1"))
    calls = []
    convert = mammoth.convert_to_html
    monkeypatch.setattr(mammoth, "convert_to_html", lambda *a, **k: calls.append(k) or convert(*a, **k))

    html = convert_docx(linked_picture_cv(secret.as_uri()))

    assert html is not None and "Quokka Foundation" in html
    assert "<img" not in html and base64.b64encode(secret.read_bytes())[:24].decode() not in html
    # said explicitly, not left to the library's default (mammoth read such files by default before 1.11)
    assert [k.get("external_file_access") for k in calls] == [False]
