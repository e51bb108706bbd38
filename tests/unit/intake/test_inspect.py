import io
import zipfile

import pytest
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

from services.intake.documents.inspect import DocumentRejected, inspect_document
from services.intake.programme.defaults import DOCX, NIP_2027, PDF
from tests.factories import make_docx, make_pdf

CV = next(d for d in NIP_2027["documents"] if d["kind"] == "cv")
PROOF = next(d for d in NIP_2027["documents"] if d["kind"] == "academic_proof")


def rejected(data, rule=PROOF):
    with pytest.raises(DocumentRejected) as info:
        inspect_document(data, rule=rule)
    return info.value


def test_pdf_is_accepted_with_its_page_count():
    facts = inspect_document(make_pdf(pages=3), rule=PROOF)
    assert facts.media_type == PDF and facts.pages == 3 and len(facts.sha256) == 64


def test_docx_cv_is_accepted_but_not_as_proof():
    assert inspect_document(make_docx(), rule=CV).media_type == DOCX
    assert rejected(make_docx()).code == "unsupported_media_type"


def test_type_is_judged_by_content_not_name():
    assert rejected(b"\x89PNG\r\n\x1a\n" + b"0" * 100).code == "unsupported_media_type"


def test_size_limit():
    assert rejected(b"%PDF-1.4" + b"0" * (PROOF["max_bytes"])).status == 413


def test_empty_file():
    assert rejected(b"").code == "document_empty"


def test_encrypted_pdf():
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert rejected(buffer.getvalue()).code == "document_encrypted"


def test_pdf_with_javascript():
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    script = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                               NameObject("/JS"): TextStringObject("app.alert('hi');")})
    writer._root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): DictionaryObject(
        {NameObject("/Names"): ArrayObject([TextStringObject("hello"), script])})})
    buffer = io.BytesIO()
    writer.write(buffer)
    assert rejected(buffer.getvalue()).code == "document_active_content"


def test_pdf_with_launch_open_action():
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject(
        {NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("calc.exe")})
    buffer = io.BytesIO()
    writer.write(buffer)
    assert rejected(buffer.getvalue()).code == "document_active_content"


def test_too_many_pages():
    assert rejected(make_pdf(pages=PROOF["max_pages"] + 1)).code == "document_too_many_pages"


def test_docx_bomb_and_macros():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>" + " " * (60 * 1024 * 1024))
    assert rejected(buffer.getvalue(), CV).code == "document_archive_bomb"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        archive.writestr("word/vbaProject.bin", b"\x00" * 10)
    assert rejected(buffer.getvalue(), CV).code == "document_active_content"
