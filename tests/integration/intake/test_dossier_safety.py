"""The dossier is what staff open: built with real WeasyPrint and pypdf from uploads that carry everything
inspection should have refused (as if it had missed them), it must come out inert, compressed and bounded."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from services.intake.applications.models import Application
from services.intake.applications.tasks import check_application
from services.intake.dossier import render
from services.intake.dossier.render import Attachment, DossierRejected, render_dossier
from services.intake.dossier.tasks import render_dossier_task
from services.intake.documents.inspect import inspect_document
from services.intake.programme.defaults import NIP_2027
from tests import hostile
from tests.factories import make_pdf, multipart

ROOT = Path(__file__).resolve().parents[3]
PROOF = next(d for d in NIP_2027["documents"] if d["kind"] == "academic_proof")
CONTEXT = {
    "call_name": "NIP 2027", "reference": "NIP27-SAFE-0001", "name": "Ana Popescu", "submitted_at": "2026-11-29 10:00",
    "email": "ana@example.org", "date_of_birth": "2002-05-17", "age": 24, "nationality": "RO",
    "correspondence_language": "English", "problems": [], "departments": ["Political science"], "session": "March",
    "education": {"institution": "University of Bucharest", "degree_level": "master", "field_of_study": "IR",
                  "status": "enrolled", "year_of_study": 4},
    "languages": {"en": "C1"}, "motivation": "Motivated.", "documents": [],
}


def dossier(*attachments: Attachment):
    return render_dossier(context=CONTEXT, attachments=list(attachments), reference="NIP27-SAFE-0001")


def test_dossier_carries_no_actions_scripts_attachments_or_forms_whatever_the_uploads_held():
    uploads = [Attachment("Everything", hostile.everything_hostile(filled_in="Level B2 confirmed"))]
    uploads += [Attachment(name, build()) for name, (build, _) in sorted(hostile.HOSTILE_PDFS.items())]
    assert all(hostile.active_names(a.data) for a in uploads)  # the inputs really are hostile

    rendered = dossier(*uploads)
    assert hostile.active_names(rendered.pdf) == hostile.active_names(rendered.blind.pdf) == set()
    assert rendered.flags == ()
    reader = PdfReader(io.BytesIO(rendered.pdf))
    assert "/AcroForm" not in reader.trailer["/Root"] and "/Names" not in reader.trailer["/Root"]
    summary_pages = reader.get_destination_page_number(reader.outline[1])
    assert rendered.pages == len(reader.pages) == summary_pages + 2 + len(hostile.HOSTILE_PDFS)
    # what the pages showed is still shown: the text, a filled-in field's value, our page numbers
    everything = reader.pages[summary_pages].extract_text()
    assert "Everything hostile" in everything and "Level B2 confirmed" in everything
    assert f"page {rendered.pages} of {rendered.pages}" in reader.pages[-1].extract_text()
    assert [o.title for o in reader.outline][:2] == ["Summary", "Everything"]


def test_dossier_of_large_compressible_pages_stays_about_the_size_of_its_uploads():
    upload = hostile.compressible_pages(pages=20, expanded_per_page=4 * hostile.MB)
    assert inspect_document(upload, rule=PROOF).pages == 20  # a document intake accepts
    summary_only = dossier()
    rendered = dossier(Attachment("Proof", upload))
    grown = len(rendered.pdf) - len(summary_only.pdf)
    assert grown < 1.3 * len(upload) + 64 * 1024, (len(upload), len(rendered.pdf))
    # the page's streams are stored compressed, as uploaded: expanded, they are the 80 MB the upload drew
    reader = PdfReader(io.BytesIO(rendered.pdf))
    streams = [s.get_object() for page in reader.pages[1:] for s in page.raw_get("/Contents")]
    assert all("/Filter" in s for s in streams if len(s.get_data()) > 1024)
    assert sum(len(s.get_data()) for s in streams) > 75 * hostile.MB


MEASURE = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[1])
from services.intake.dossier.render import Attachment, render_dossier
from tests import hostile
from tests.integration.intake.test_dossier_safety import CONTEXT
upload = hostile.compressible_pages(pages=20, expanded_per_page=7 * hostile.MB)
render_dossier(context=CONTEXT, attachments=[Attachment("Warm-up", hostile.compressible_pages(pages=1,
               expanded_per_page=1024))], reference="NIP27-SAFE-0001")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rendered = render_dossier(context=CONTEXT, attachments=[Attachment("Proof", upload)], reference="NIP27-SAFE-0001")
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kb": before, "after_kb": after, "pages": rendered.pages, "bytes": len(rendered.pdf)}))
"""


def test_rendering_a_dossier_does_not_expand_the_uploads_in_memory():
    # a fresh process, so the peak resident size is this render's alone (140 MB of drawing when expanded)
    result = subprocess.run([sys.executable, "-c", MEASURE, str(ROOT)], capture_output=True, text=True,
                            timeout=240, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["pages"] == 21
    grown_mb = (figures["after_kb"] - figures["before_kb"]) / 1024
    assert grown_mb < 48, figures


def test_a_dossier_past_its_page_bound_is_refused_with_a_code():
    pages = render.MAX_DOCUMENT_PAGES
    many = hostile.raw_pdf([zlib.compress(b"q Q\n")] * pages)
    with pytest.raises(DossierRejected) as info:
        dossier(*[Attachment(f"Part {n}", many) for n in range(render.MAX_DOSSIER_PAGES // pages + 1)])
    assert info.value.code == "dossier_too_many_pages"


def test_a_dossier_past_its_size_bound_is_refused_with_a_code(monkeypatch):
    proof = make_pdf("Certificate of enrolment")
    monkeypatch.setattr(render, "MAX_DOSSIER_BYTES", len(proof))  # the summary's fonts and the proof: past it
    with pytest.raises(DossierRejected) as info:
        dossier(Attachment("Proof", proof))
    assert info.value.code == "dossier_too_large"
    monkeypatch.setattr(render, "MAX_DOSSIER_BYTES", 64 * render.MB)
    assert dossier(Attachment("Proof", proof)).pages >= 2


def test_render_task_records_a_problem_instead_of_failing_when_the_dossier_is_out_of_bounds(
        client, session, settings, pdf, proof, monkeypatch):
    reference = client.post("/api/v1/applications", data=multipart(cv=pdf, academic_proof=proof),
                            content_type="multipart/form-data").get_json()["reference"]
    assert check_application.run(reference) == "under_review"
    monkeypatch.setattr(render, "MAX_DOSSIER_PAGES", 3)  # a summary and two uploads of 2 + 1 pages: past it

    assert render_dossier_task.run(reference) is None
    assert render_dossier_task.run(reference) is None  # again: same answer, one problem
    application = session.scalars(select(Application).where(Application.reference == reference)).one()
    session.refresh(application)
    assert [p["code"] for p in application.problems] == ["dossier_too_many_pages"]
    assert application.dossier_key is None and application.status == "under_review"
    assert not (settings.documents_dir / "dossiers").exists()


def test_the_same_documents_render_to_the_same_bytes():
    # the file identifier comes from the content, not the clock: a dossier's checksum changes only with it
    attachments = [Attachment("Proof of studies", make_pdf("Certificate of enrolment"))]
    first, second = (render_dossier(context=CONTEXT, attachments=attachments, reference=CONTEXT["reference"])
                     for _ in range(2))
    assert (first.sha256, first.blind.sha256) == (second.sha256, second.blind.sha256)
    changed = render_dossier(context=CONTEXT, attachments=[Attachment("Proof of studies", make_pdf("Other"))],
                             reference=CONTEXT["reference"])
    assert changed.sha256 != first.sha256
