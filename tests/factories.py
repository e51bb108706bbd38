"""Factories for test data: real PDFs and DOCX files, valid application payloads."""
from __future__ import annotations

import io
import json
import zipfile

from weasyprint import HTML

MOTIVATION = ("I want to contribute to international cooperation and learn how an alliance of "
              "democracies turns policy into practice. ") * 6


def make_pdf(title: str = "Document", pages: int = 1) -> bytes:
    """A real PDF with `pages` pages, each saying `title` and its number."""
    body = "".join(f'<section style="page-break-after: always"><h1>{title}</h1><p>Page {i + 1}</p></section>'
                   for i in range(pages))
    return HTML(string=f"<html><body>{body}</body></html>").write_pdf()


def make_docx(text: str = "Curriculum vitae") -> bytes:
    """A minimal but valid Word document."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml",
                         '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                         'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
        archive.writestr("word/document.xml",
                         f'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                         f'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p>'
                         f'</w:body></w:document>')
    return buffer.getvalue()


def application_payload(**overrides) -> dict:
    """An eligible application, as the API takes it."""
    payload = {
        "given_name": "Ana", "family_name": "Popescu", "email": "ana.popescu@example.org",
        "date_of_birth": "2002-05-17", "nationality": "RO", "languages": {"en": "C1", "fr": "B1"},
        "education": {"institution": "University of Bucharest", "degree_level": "master",
                      "field_of_study": "International relations", "status": "enrolled", "year_of_study": 4},
        "departments": ["polsci", "comms"], "session": "september", "motivation": MOTIVATION,
        "correspondence_language": "en", "consent": True,
    }
    payload.update(overrides)
    return payload


def multipart(payload: dict | None = None, *, cv: bytes | None = None, academic_proof: bytes | None = None,
              **files) -> dict:
    """Form data for Flask's test client: the JSON part and the files."""
    data = {"application": json.dumps(payload if payload is not None else application_payload())}
    for kind, content in {"cv": cv, "academic_proof": academic_proof, **files}.items():
        if content is not None:
            data[kind] = (io.BytesIO(content), f"{kind}.pdf")
    return data



def link_path(link: str) -> str:
    """The path and query of an emailed link, for a test client."""
    rest = link.split("://", 1)[1]
    return rest[rest.index("/"):]


def open_portal(client, reference: str, *, language: str = "en"):
    """Sign `client` in to `reference`'s portal as the link in an email does; returns the portal page's response.

    Call it inside intake's app context (the `app` fixture of tests/integration/intake)."""
    from services.intake.db import db
    from services.intake.portal import links

    link, _expires = links.mint(session=db.session, reference=reference, language=language)
    db.session.commit()
    return client.get(link_path(link), follow_redirects=True)
