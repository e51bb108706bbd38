"""Content checks for uploads: type by magic bytes, size, pages, encryption, active content, bombs."""
from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from services.intake.programme.defaults import DOCX, PDF

MAX_DOCX_UNCOMPRESSED = 50 * 1024 * 1024
MAX_DOCX_RATIO = 100
_PDF_ACTIONS = ("/JavaScript", "/JS", "/Launch", "/SubmitForm", "/ImportData", "/RichMedia")


@dataclass(frozen=True)
class Inspected:
    media_type: str
    size: int
    pages: int | None
    sha256: str


class DocumentRejected(Exception):
    """Why an upload is refused: an HTTP status, a reason code and a message for the applicant."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def sniff(data: bytes) -> str | None:
    if b"%PDF-" in data[:1024]:
        return PDF
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile:
            return None
        if "[Content_Types].xml" in names and "word/document.xml" in names:
            return DOCX
    return None


def inspect_document(data: bytes, *, rule: dict) -> Inspected:
    """Judge one upload against its document rule; raises DocumentRejected."""
    label = rule.get("label", rule["kind"])
    if len(data) == 0:
        raise DocumentRejected(422, "document_empty", f"{label}: the file is empty.")
    if len(data) > rule["max_bytes"]:
        raise DocumentRejected(413, "document_too_large",
                               f"{label}: the file is larger than {rule['max_bytes'] // (1024 * 1024)} MB.")
    media_type = sniff(data)
    if media_type not in rule["types"]:
        allowed = " or ".join("PDF" if t == PDF else "DOCX" for t in rule["types"])
        raise DocumentRejected(415, "unsupported_media_type", f"{label}: the file must be a {allowed} document.")
    pages = _inspect_pdf(data, label, rule) if media_type == PDF else _inspect_docx(data, label)
    return Inspected(media_type, len(data), pages, hashlib.sha256(data).hexdigest())


def _inspect_pdf(data: bytes, label: str, rule: dict) -> int:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise DocumentRejected(422, "document_encrypted",
                                   f"{label}: the PDF is password-protected; upload it without a password.")
        pages = len(reader.pages)
        active = _pdf_has_active_content(reader)
    except DocumentRejected:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
        raise DocumentRejected(422, "document_unreadable", f"{label}: the PDF cannot be read.") from None
    if pages == 0:
        raise DocumentRejected(422, "document_unreadable", f"{label}: the PDF has no pages.")
    if pages > rule.get("max_pages", 50):
        raise DocumentRejected(422, "document_too_many_pages",
                               f"{label}: the PDF has {pages} pages; at most {rule['max_pages']} are accepted.")
    if active:
        raise DocumentRejected(422, "document_active_content",
                               f"{label}: the PDF contains scripts or embedded actions; upload a plain PDF.")
    return pages


def _pdf_has_active_content(reader: PdfReader) -> bool:
    root = reader.trailer["/Root"]
    names = root.get("/Names")
    if names is not None and ("/JavaScript" in names.get_object() or "/EmbeddedFiles" in names.get_object()):
        return True
    if "/AA" in root or "/OpenAction" in root and _is_script(root["/OpenAction"]):
        return True
    for page in reader.pages:
        if "/AA" in page:
            return True
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A")
            if action is not None and _is_script(action):
                return True
    return False


def _is_script(action) -> bool:
    action = action.get_object()
    return hasattr(action, "get") and action.get("/S") in _PDF_ACTIONS


def _inspect_docx(data: bytes, label: str) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        total = sum(info.file_size for info in infos)
        compressed = max(sum(info.compress_size for info in infos), 1)
        if total > MAX_DOCX_UNCOMPRESSED or total / compressed > MAX_DOCX_RATIO:
            raise DocumentRejected(422, "document_archive_bomb", f"{label}: the document expands too much.")
        if any(info.filename.lower().endswith("vbaproject.bin") for info in infos):
            raise DocumentRejected(422, "document_active_content", f"{label}: the document contains macros.")
    return None
