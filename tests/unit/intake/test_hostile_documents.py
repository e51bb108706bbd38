"""Hostile uploads, built for real, against intake's content inspection: each is refused with its own code,
and the inspection itself stays cheap whatever the file claims or expands to."""
from __future__ import annotations

import io
import tracemalloc
import zipfile

import pytest
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject

from services.intake.documents.inspect import DocumentRejected, inspect_document
from services.intake.programme.defaults import DOCX, NIP_2027, PDF
from tests import hostile
from tests.factories import make_docx, make_pdf

CV = next(d for d in NIP_2027["documents"] if d["kind"] == "cv")
PROOF = next(d for d in NIP_2027["documents"] if d["kind"] == "academic_proof")


def rejected(data, rule=PROOF) -> DocumentRejected:
    with pytest.raises(DocumentRejected) as info:
        inspect_document(data, rule=rule)
    return info.value


@pytest.mark.parametrize("name", sorted(hostile.HOSTILE_PDFS))
def test_pdf_with_active_content_anywhere_is_refused_with_its_code(name):
    build, code = hostile.HOSTILE_PDFS[name]
    refusal = rejected(build())
    assert (refusal.status, refusal.code) == (422, code)
    assert refusal.message.startswith(PROOF["label"])


def test_action_type_hidden_behind_an_indirect_reference_is_still_seen():
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf()))
    kind = writer._add_object(NameObject("/JavaScript"))
    # no /JS key to give it away (the script could sit in a /Next): only the action's type, behind a reference
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject({NameObject("/S"): kind})
    buffer = io.BytesIO()
    writer.write(buffer)
    assert rejected(buffer.getvalue()).code == "document_active_content"


def test_html_before_the_pdf_header_is_not_a_pdf():
    refusal = rejected(hostile.html_before_header())
    assert (refusal.status, refusal.code) == (415, "document_data_before_header")


def test_small_pdf_that_expands_past_the_bound_is_refused_without_expanding_in_memory():
    bomb = hostile.decompression_bomb(200 * hostile.MB)
    assert len(bomb) < 1 * hostile.MB
    tracemalloc.start()
    try:
        refusal = rejected(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (refusal.status, refusal.code) == (422, "document_expands_too_much")
    assert peak < 32 * hostile.MB, f"inspection held {peak // hostile.MB} MB"


def test_large_but_reasonable_content_is_accepted():
    facts = inspect_document(hostile.compressible_pages(pages=20), rule=PROOF)
    assert facts.media_type == PDF and facts.pages == 20


def test_pdf_past_pypdf_limits_is_a_clear_refusal_not_a_crash():
    refusal = rejected(hostile.limit_reaching_pdf())
    assert (refusal.status, refusal.code) == (422, "document_too_complex")


def test_docx_whose_directory_understates_its_size_is_measured_for_real():
    lying = hostile.docx_with_lying_size(real=60 * hostile.MB, declared=1000)
    with zipfile.ZipFile(io.BytesIO(lying)) as archive:
        assert sum(info.file_size for info in archive.infolist()) < 2000  # what the old check trusted
    assert rejected(lying, CV).code == "document_archive_bomb"


def test_docx_whose_directory_lies_within_the_bound_is_damaged():
    assert rejected(hostile.docx_with_lying_size(real=20_000, declared=1000), CV).code == "document_unreadable"


@pytest.mark.parametrize("build", [hostile.docx_with_remote_template, hostile.docx_with_remote_object])
def test_docx_loading_content_from_elsewhere_is_refused(build):
    refusal = rejected(build(), CV)
    assert (refusal.status, refusal.code) == (422, "document_external_content")


def test_docx_with_plain_hyperlinks_is_accepted():
    assert inspect_document(hostile.docx_with_hyperlink(), rule=CV).media_type == DOCX
    assert inspect_document(hostile.docx_with_field(' HYPERLINK "https://example.org/cv" '), rule=CV)
    assert inspect_document(hostile.docx_with_field(" PAGE ", " \\* MERGEFORMAT "), rule=CV)


def test_docx_field_running_a_command_is_refused_even_split_over_runs():
    assert rejected(hostile.docx_with_dde(), CV).code == "document_active_content"


def test_docx_field_fetching_a_remote_picture_is_refused():
    assert rejected(hostile.docx_with_remote_picture(), CV).code == "document_external_content"
    assert rejected(hostile.docx_with_field(' INCLUDETEXT "\\\\attacker\\share\\x.docx" '), CV).code == \
        "document_external_content"


def test_macro_enabled_docx_is_refused_by_its_content_type_too():
    source = zipfile.ZipFile(io.BytesIO(make_docx()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            body = source.read(info)
            if info.filename == "[Content_Types].xml":
                body = body.replace(b"</Types>", b'<Override PartName="/word/document.xml" ContentType="application/'
                                                 b'vnd.ms-word.document.macroEnabled.main+xml"/></Types>')
            archive.writestr(info.filename, body)
    assert rejected(buffer.getvalue(), CV).code == "document_active_content"


def test_docx_with_too_many_members_is_a_bomb():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        for i in range(2100):
            archive.writestr(f"word/media/{i}.xml", "")
    assert rejected(buffer.getvalue(), CV).code == "document_archive_bomb"


def test_docx_archive_names_are_judged_before_any_member_is_opened():
    # the unsafe member is also not a valid deflate stream: refused for its name, never read
    data = bytearray(hostile.docx_with_member("../../home/staff/.bashrc", b"echo owned" * 100))
    start = data.index(b"../../home/staff/.bashrc") + len("../../home/staff/.bashrc")
    data[start:start + 8] = b"\xff" * 8
    assert rejected(bytes(data), CV).code == "document_archive_unsafe_names"


def test_docx_with_ordinary_nested_member_names_is_accepted():
    accepted = hostile.docx_with_member("word/media/image1.png", b"\x89PNG not really")
    assert inspect_document(accepted, rule=CV).media_type == DOCX
