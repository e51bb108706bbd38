import hashlib
import io

from pypdf import PdfReader
from sqlalchemy import select, update

from services.intake.applications.models import Application, Document
from services.intake.applications.tasks import check_application
from services.intake.dossier import render
from services.intake.dossier.render import SafeFetcher, html_to_pdf
from services.intake.dossier.tasks import render_dossier_task
from shared.documents import DocumentStore
from tests.factories import application_payload, make_docx, multipart


def submit(client, data):
    return client.post("/api/v1/applications", data=data, content_type="multipart/form-data").get_json()


def rendered(session, settings, reference):
    application = session.scalars(select(Application).where(Application.reference == reference)).one()
    return application, PdfReader(io.BytesIO(DocumentStore(settings.documents_dir).read(application.dossier_key)))


def test_dossier_has_summary_then_every_uploaded_page(client, session, settings, pdf, proof):
    reference = submit(client, multipart(cv=pdf, academic_proof=proof))["reference"]
    check_application.run(reference)
    render_dossier_task.run(reference)
    application, reader = rendered(session, settings, reference)
    summary_pages = len(reader.pages) - 3
    assert summary_pages >= 1 and application.dossier_pages == len(reader.pages)
    first = reader.pages[0].extract_text()
    assert reference in first and "Ana Popescu" in first and "Political science" in first
    assert "Curriculum vitae" in reader.pages[summary_pages].extract_text()
    assert "Certificate of enrolment" in reader.pages[-1].extract_text()
    total = len(reader.pages)
    assert f"page {total} of {total}" in reader.pages[-1].extract_text()
    assert [o.title for o in reader.outline if not isinstance(o, list)] == ["Summary", "Curriculum vitae", "Proof of studies or degree"]


def test_rendering_twice_keeps_one_dossier_key(client, session, settings, pdf, proof):
    reference = submit(client, multipart(cv=pdf, academic_proof=proof))["reference"]
    check_application.run(reference)
    assert render_dossier_task.run(reference) == render_dossier_task.run(reference)
    assert [k for k in DocumentStore(settings.documents_dir).keys() if k.startswith("dossiers/")] == [
        f"dossiers/{reference.lower()}-blind.pdf", f"dossiers/{reference.lower()}.pdf"]


def test_rendering_twice_gives_the_same_bytes_and_each_variant_its_own_file_identifier(
        client, session, settings, pdf, proof):
    reference = submit(client, multipart(cv=pdf, academic_proof=proof))["reference"]
    check_application.run(reference)
    store = DocumentStore(settings.documents_dir)
    renders = []
    for _ in range(2):
        render_dossier_task.run(reference)
        application = session.scalars(select(Application).where(Application.reference == reference)).one()
        session.refresh(application)
        renders.append((application.dossier_sha256, application.blind_dossier_sha256))
        full, blind = store.read(application.dossier_key), store.read(application.blind_dossier_key)
        assert hashlib.sha256(full).hexdigest() == application.dossier_sha256
    assert renders[0] == renders[1]
    identifiers = [PdfReader(io.BytesIO(data)).trailer["/ID"][0] for data in (full, blind)]
    assert identifiers[0] != identifiers[1] and all(len(i) == 16 for i in identifiers)


def test_uploads_the_current_inspector_judged_are_not_walked_again_and_others_are(
        client, session, settings, pdf, proof, monkeypatch):
    reference = submit(client, multipart(cv=pdf, academic_proof=proof))["reference"]
    check_application.run(reference)
    walked = []
    real_check = render.check_pdf_bounds
    monkeypatch.setattr(render, "check_pdf_bounds", lambda reader: walked.append(reader) or real_check(reader))
    render_dossier_task.run(reference)
    assert walked == []  # judged on arrival, the same bytes: the render opens them with qpdf alone

    application = session.scalars(select(Application).where(Application.reference == reference)).one()
    session.execute(update(Document).where(Document.application_id == application.id)
                    .values(inspected_by="2020-01-01.1"))
    session.commit()
    render_dossier_task.run(reference)
    assert len(walked) == 2  # an older inspector's verdict is not trusted: both PDFs are walked here
    session.refresh(application)
    assert application.dossier_flags == [] and application.dossier_pages >= 4


def test_docx_cv_is_converted_and_appended_under_its_own_bookmark(client, session, settings, proof):
    data = multipart(academic_proof=proof)
    data["cv"] = (io.BytesIO(make_docx("Volunteer translator at the Quokka Foundation")), "cv.docx")
    reference = submit(client, data)["reference"]
    check_application.run(reference)
    render_dossier_task.run(reference)
    _, reader = rendered(session, settings, reference)
    starts = {o.title: reader.get_destination_page_number(o) for o in reader.outline}
    assert list(starts) == ["Summary", "Curriculum vitae", "Proof of studies or degree"]
    assert "Volunteer translator at the Quokka Foundation" in reader.pages[starts["Curriculum vitae"]].extract_text()


def test_applicant_text_is_escaped_not_rendered_as_html(client, session, settings, pdf, proof):
    payload = application_payload(given_name='<img src="http://127.0.0.1:9/x">Eve', email="eve@example.org")
    reference = submit(client, multipart(payload, cv=pdf, academic_proof=proof))["reference"]
    check_application.run(reference)
    render_dossier_task.run(reference)
    _, reader = rendered(session, settings, reference)
    assert '<img src="http://127.0.0.1:9/x">Eve' in reader.pages[0].extract_text().replace("\n", "")


def test_fetcher_refuses_files_and_network():
    fetcher = SafeFetcher()
    for url in ("file:///etc/passwd", "http://127.0.0.1:9/", "https://example.org/x.css"):
        try:
            fetcher.fetch(url)
        except ValueError:
            continue
        raise AssertionError(f"{url} was fetched")
    html = '<link rel="stylesheet" href="file:///etc/passwd"><img src="file:///etc/hostname"><p>ok</p>'
    assert PdfReader(io.BytesIO(html_to_pdf(html))).pages[0].extract_text().strip() == "ok"
