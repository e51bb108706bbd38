"""Render a dossier: WeasyPrint summary + uploaded PDFs (pypdf), with bookmarks and page numbers."""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pypdf import PdfReader, PdfWriter, Transformation
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

TEMPLATES = Path(__file__).resolve().parent / "templates"
ASSETS = TEMPLATES / "assets"
A4_WIDTH = 595.28

_jinja = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


class SafeFetcher(URLFetcher):
    """Only `data:` URLs and our own packaged assets: no file:, no http, no redirects."""

    def __init__(self):
        super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False)

    def fetch(self, url, headers=None):
        if url.startswith("data:"):
            return super().fetch(url, headers)
        if url.startswith("file://"):
            path = Path(url[len("file://"):]).resolve()
            if path.is_relative_to(ASSETS) and path.is_file():
                return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": "text/css"})
        raise ValueError(f"resource not allowed in a dossier: {url[:80]}")


@dataclass(frozen=True)
class Attachment:
    label: str
    data: bytes | None  # None: not a PDF (a DOCX CV), listed in the summary only


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pages: int
    sha256: str


def html_to_pdf(html: str) -> bytes:
    return HTML(string=html, base_url=str(TEMPLATES) + "/", url_fetcher=SafeFetcher()).write_pdf()


def render_summary(context: dict) -> bytes:
    return html_to_pdf(_jinja.get_template("summary.html").render(**context))


def render_dossier(*, context: dict, attachments: list[Attachment], reference: str) -> Rendered:
    """The whole dossier as one PDF."""
    writer = PdfWriter()
    summary = PdfReader(io.BytesIO(render_summary(context)))
    writer.append(summary, outline_item="Summary")
    for attachment in attachments:
        if attachment.data is not None:
            writer.append(PdfReader(io.BytesIO(attachment.data), strict=False), outline_item=attachment.label,
                          import_outline=False)
    _strip_actions(writer)
    _number_pages(writer, reference)
    writer.add_metadata({"/Title": f"Dossier {reference}", "/Producer": "NIP pipeline"})
    buffer = io.BytesIO()
    writer.write(buffer)
    pdf = buffer.getvalue()
    return Rendered(pdf, len(writer.pages), hashlib.sha256(pdf).hexdigest())


def _strip_actions(writer: PdfWriter) -> None:
    # uploads were checked on arrival, but the dossier is what staff open: keep it inert
    for page in writer.pages:
        if "/AA" in page:
            del page["/AA"]


def _number_pages(writer: PdfWriter, reference: str) -> None:
    total = len(writer.pages)
    stamps = PdfReader(io.BytesIO(html_to_pdf(_jinja.get_template("page_numbers.html").render(
        reference=reference, total=total))))
    for page, stamp in zip(writer.pages, stamps.pages):
        box = page.mediabox
        offset_x = float(box.left) + (float(box.width) - A4_WIDTH) / 2
        page.merge_transformed_page(stamp, Transformation().translate(offset_x, float(box.bottom)))
