"""Content checks for uploads: type by magic bytes, size, pages, encryption, active content, bombs.

An upload is judged on arrival; the application's check judges it again unless the stored bytes are those
this inspector already accepted (see still_acceptable). Whatever passes here is what the dossier renderer and
staff will open, so every bound the renderer relies on is enforced here.
"""
from __future__ import annotations

import copy
import hashlib
import io
import logging
import re
import zipfile
import zlib
from dataclasses import dataclass

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from pypdf import PdfReader, apply_configuration
from pypdf.errors import LimitReachedError, PyPdfError
from pypdf.filters import decode_stream_data
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, StreamObject

from services.intake.programme.defaults import DOCX, PDF

log = logging.getLogger(__name__)

MB = 1024 * 1024
MAX_DOCX_UNCOMPRESSED = 50 * MB
MAX_DOCX_RATIO = 100
MAX_DOCX_MEMBERS = 2000
# What a PDF may expand to once its streams are decompressed: generous for scans, far below what hurt
# the renderer (a 2 MB upload that expanded to gigabytes).
MAX_PDF_EXPANDED = 150 * MB
MAX_PDF_OBJECTS = 500_000
_CHUNK = 1 * MB
_DOCX_CHUNK = 64 * 1024

# pypdf's own limits are per stream; they also bound the work of parsing the file around our walk
PYPDF_LIMITS = {
    "maximum_declared_stream_length": MAX_PDF_EXPANDED,
    "array_based_stream_maximum_output_length": MAX_PDF_EXPANDED,
    "jbig2_maximum_output_length": MAX_PDF_EXPANDED,
    "lzw_maximum_output_length": MAX_PDF_EXPANDED,
    "run_length_maximum_output_length": MAX_PDF_EXPANDED,
    "zlib_maximum_output_length": MAX_PDF_EXPANDED,
    "brotli_maximum_output_length": MAX_PDF_EXPANDED,
    "image_maximum_buffer_size": MAX_PDF_EXPANDED,
    "stream_decoding_work_maximum_length": 2 * MAX_PDF_EXPANDED,
}

# Actions that run code, open other files or programs, send data out, or play media.
# Plain links (/URI, /GoTo), /Named navigation and layer switches are harmless and common.
ACTIVE_ACTIONS = frozenset({
    "/JavaScript", "/Launch", "/GoToE", "/GoToR", "/SubmitForm", "/ImportData", "/RichMediaExecute",
    "/Rendition", "/Movie", "/Sound", "/GoTo3DView",
})
_ACTIVE_KEYS = frozenset({"/JS", "/JavaScript", "/AA", "/XFA"})
_ACTIVE_ANNOTATIONS = frozenset({"/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"})
_EMBEDDING_KEYS = frozenset({"/EmbeddedFiles", "/EF"})
_IMAGE_CODECS = frozenset({"/DCTDecode", "/DCT", "/JPXDecode", "/CCITTFaxDecode", "/CCF", "/JBIG2Decode"})
_FLATE = frozenset({"/FlateDecode", "/Fl"})

# A DOCX may link out to web pages (hyperlinks); any other external target is fetched or run by Word
# when staff open the file: remote templates, OLE objects, frames, sub-documents, images (tracking).
_HARMLESS_EXTERNAL = frozenset({
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink",
    "http://purl.oclc.org/ooxml/officeDocument/relationships/hyperlink",
})
_MACRO_CONTENT_TYPE = "macroenabled"


# Names this inspector: change it whenever a check is added or made stricter, so documents judged by an
# older one are judged again at the application's check instead of being trusted.
INSPECTOR = "2026-11-29.2"


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
    # the header must open the file: anything before it (HTML, a script) makes a polyglot that a
    # browser or another tool may read as something else
    if data[:5] == b"%PDF-":
        return PDF
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError, NotImplementedError):
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
                               f"{label}: the file is larger than {rule['max_bytes'] // MB} MB.")
    media_type = sniff(data)
    if media_type is None and PDF in rule["types"] and b"%PDF-" in data[:1024]:
        raise DocumentRejected(415, "document_data_before_header",
                               f"{label}: the file has other content before the PDF starts; "
                               "save or export it again as a plain PDF.")
    if media_type is None or media_type not in rule["types"]:
        allowed = " or ".join("PDF" if t == PDF else "DOCX" for t in rule["types"])
        raise DocumentRejected(415, "unsupported_media_type", f"{label}: the file must be a {allowed} document.")
    pages: int | None = None  # a DOCX has no fixed page count
    if media_type == PDF:
        pages = _inspect_pdf(data, label, rule)
    else:
        _inspect_docx(data, label)
    return Inspected(media_type, len(data), pages, hashlib.sha256(data).hexdigest())


def still_acceptable(*, data: bytes, sha256: str, media_type: str, size: int, pages: int | None,
                     inspected_by: str | None, rule: dict) -> bool:
    """True when `data` are the very bytes this inspector accepted (same digest, same inspector) and what
    the rule says about them (type, size, pages) still holds: judging them again would give the same
    answer. False means: inspect them again (a changed file, an older inspector, a stricter rule)."""
    return (inspected_by == INSPECTOR and len(data) == size and size <= rule["max_bytes"]
            and media_type in rule["types"] and (pages is None or pages <= rule.get("max_pages", 50))
            and (pages is not None) == (media_type == PDF)
            and hashlib.sha256(data).hexdigest() == sha256)


# --- PDF ---------------------------------------------------------------------------------------------

class _Finding(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


_PDF_MESSAGES = {
    "document_active_content": "the PDF contains scripts, actions, form logic or media; upload a plain PDF "
                               "(for example, print it to a new PDF).",
    "document_embedded_files": "the PDF carries attached files; upload a PDF without attachments "
                               "(for example, print it to a new PDF).",
    "document_expands_too_much": f"the PDF expands to more than {MAX_PDF_EXPANDED // MB} MB when opened; "
                                 "export it again with compressed images (for example JPEG).",
    "document_too_complex": "the PDF is too complex to process; export it again or print it to a new PDF.",
}


def _inspect_pdf(data: bytes, label: str, rule: dict) -> int:
    try:
        with apply_configuration(None, **PYPDF_LIMITS):  # None: on top of the current configuration
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise DocumentRejected(422, "document_encrypted",
                                       f"{label}: the PDF is password-protected; upload it without a password.")
            budget = _Budget(MAX_PDF_EXPANDED)
            _count_object_streams(reader, budget)
            pages = len(reader.pages)
            if 0 < pages <= rule.get("max_pages", 50):
                _walk(reader, budget, judge=_judge)
    except DocumentRejected:
        raise
    except _Finding as finding:
        raise DocumentRejected(422, finding.code, f"{label}: {_PDF_MESSAGES[finding.code]}") from None
    except LimitReachedError:
        raise DocumentRejected(422, "document_too_complex", f"{label}: {_PDF_MESSAGES['document_too_complex']}") \
            from None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError,
            zlib.error, OverflowError):
        raise DocumentRejected(422, "document_unreadable", f"{label}: the PDF cannot be read.") from None
    except Exception as exc:  # noqa: BLE001 - a file pypdf chokes on in a new way is unreadable, never a 500
        log.warning("pdf inspection failed", extra={"error": type(exc).__name__})
        raise DocumentRejected(422, "document_unreadable", f"{label}: the PDF cannot be read.") from None
    if pages == 0:
        raise DocumentRejected(422, "document_unreadable", f"{label}: the PDF has no pages.")
    if pages > rule.get("max_pages", 50):
        raise DocumentRejected(422, "document_too_many_pages",
                               f"{label}: the PDF has {pages} pages; at most {rule['max_pages']} are accepted.")
    return pages


class _Budget:
    def __init__(self, limit: int):
        self.left = limit

    def spend(self, amount: int) -> None:
        self.left -= amount
        if self.left < 0:
            raise _Finding("document_expands_too_much")


def _count_object_streams(reader: PdfReader, budget: _Budget) -> None:
    # object streams are decompressed by pypdf as objects are read: count them before anything is read
    for number in sorted({stream for stream, _ in reader.xref_objStm.values()}):
        stream = reader.get_object(number)
        if isinstance(stream, StreamObject):
            _count_stream(stream, budget)


def check_pdf_bounds(reader: PdfReader) -> None:
    """What the renderer relies on, checked again on the bytes it is given: objects few enough and streams
    that expand within bounds. Content is not judged (the renderer copies none that acts); raises
    DocumentRejected, or whatever pypdf raises on a file it cannot read."""
    budget = _Budget(MAX_PDF_EXPANDED)
    try:
        _count_object_streams(reader, budget)
        _walk(reader, budget, judge=None)
    except _Finding as finding:
        raise DocumentRejected(422, finding.code, _PDF_MESSAGES[finding.code]) from None


def _walk(reader: PdfReader, budget: _Budget, *, judge) -> None:
    """Every object reachable from the trailer, once: active content anywhere is found by `judge`, whatever
    leads to it (an action's /Next chain, an annotation's /AA, a name tree, a form field's kids)."""
    seen: set[tuple[int, int]] = set()
    stack: list = [reader.trailer]
    visits = 0
    while stack:
        item = stack.pop()
        visits += 1
        if visits > MAX_PDF_OBJECTS:
            raise _Finding("document_too_complex")
        if isinstance(item, IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            item = item.get_object()
        if isinstance(item, DictionaryObject):
            if judge is not None:
                judge(item)
            if isinstance(item, StreamObject):
                _count_stream(item, budget)
            stack.extend(item.values())
        elif isinstance(item, ArrayObject):
            stack.extend(item)


def resolved(obj: DictionaryObject, key: str, default=None):
    """obj[key] with indirect references followed (DictionaryObject.get returns them unresolved, and an
    attacker may hide a name such as /JavaScript behind one)."""
    value = obj.get(key)
    return default if value is None else value.get_object()


def _judge(obj: DictionaryObject) -> None:
    keys = set(obj.keys())
    subtype, action = resolved(obj, "/Subtype"), resolved(obj, "/S")
    if keys & _EMBEDDING_KEYS or subtype == "/FileAttachment":
        raise _Finding("document_embedded_files")
    if keys & _ACTIVE_KEYS or action in ACTIVE_ACTIONS or subtype in _ACTIVE_ANNOTATIONS:
        raise _Finding("document_active_content")


def _filters(stream: StreamObject) -> list[str]:
    filters = stream.get("/Filter")
    if filters is None:
        return []
    filters = filters.get_object()
    if isinstance(filters, NameObject):
        return [str(filters)]
    if isinstance(filters, ArrayObject):
        return [str(f.get_object()) for f in filters]
    raise ValueError("invalid /Filter")


def _count_stream(stream: StreamObject, budget: _Budget) -> None:
    """Spend the stream's decompressed size. Image codecs stay compressed in every PDF we write and are
    decoded only by the viewer, so they count as stored."""
    filters = _filters(stream)
    while filters and filters[-1] in _IMAGE_CODECS:
        filters.pop()
    raw = getattr(stream, "_data", b"")  # the encoded bytes: pypdf has no public accessor for them
    if not filters:
        budget.spend(len(raw))
    elif len(filters) == 1 and filters[0] in _FLATE:
        _count_inflated(raw, budget)
    else:
        # rare chains (ASCII85 then Flate, LZW, ...): decode for real, pypdf capped at what is left
        cap = max(budget.left, 0) + 1
        limits = {name: min(value, cap) for name, value in PYPDF_LIMITS.items() if name.endswith("output_length")}
        try:
            with apply_configuration(None, **limits):
                budget.spend(len(decode_stream_data(stream)))
        except LimitReachedError:
            raise _Finding("document_expands_too_much") from None
        except (PyPdfError, ValueError, zlib.error, NotImplementedError):
            budget.spend(len(raw))  # a stream viewers cannot decode either: only its stored size counts


def _count_inflated(raw: bytes, budget: _Budget) -> None:
    # inflate a chunk at a time and throw the output away: memory stays flat whatever the ratio
    inflater = zlib.decompressobj()
    pending = raw
    try:
        while pending:
            budget.spend(len(inflater.decompress(pending, _CHUNK)))
            pending = inflater.unconsumed_tail
            if inflater.eof:
                break
    except zlib.error:
        pass  # damaged tail: viewers stop there too, and what came out before is already counted


# --- DOCX --------------------------------------------------------------------------------------------

def _inspect_docx(data: bytes, label: str) -> None:
    def refuse(code: str, message: str):
        return DocumentRejected(422, code, f"{label}: {message}")

    bomb = refuse("document_archive_bomb", "the document expands too much.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            # judged before any member is opened: a tool that unpacks the archive would write outside its
            # folder, and one that trusts the directory would spend whatever it declares
            if any(_unsafe_member_name(info.filename) for info in infos):
                raise refuse("document_archive_unsafe_names",
                             "the document holds files named outside the document itself; save it again "
                             "as a plain Word document.")
            if len(infos) > MAX_DOCX_MEMBERS or sum(info.file_size for info in infos) > MAX_DOCX_UNCOMPRESSED:
                raise bomb
            names = [info.filename.lower() for info in infos]
            if any(n.endswith("vbaproject.bin") or n.startswith(("word/activex/", "word/embeddings/")) and
                   n.endswith(".bin") for n in names):
                raise refuse("document_active_content", "the document contains macros or embedded programs.")
            total, relationships, fields, content_types = 0, [], [], b""
            for info in infos:
                body = _read_member(archive, info, MAX_DOCX_UNCOMPRESSED - total)
                if body is None:
                    raise bomb
                total += len(body)
                if len(body) != info.file_size:
                    # the directory lies about the size: tools that trust it disagree with tools that don't
                    raise refuse("document_unreadable", "the document is damaged.")
                if info.filename.lower().endswith(".rels"):
                    relationships.append(body)
                elif info.filename.startswith("word/") and info.filename.endswith(".xml") and b"instr" in body:
                    fields.append(body)
                elif info.filename == "[Content_Types].xml":
                    content_types = body
            compressed = max(sum(info.compress_size for info in infos), 1)
            if total / compressed > MAX_DOCX_RATIO:
                raise bomb
    except DocumentRejected:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError, RuntimeError,
            ValueError, OSError):
        raise refuse("document_unreadable", "the document cannot be read.") from None
    except Exception as exc:  # noqa: BLE001 - as for PDFs: unreadable, never a 500
        log.warning("docx inspection failed", extra={"error": type(exc).__name__})
        raise refuse("document_unreadable", "the document cannot be read.") from None
    if _MACRO_CONTENT_TYPE in content_types.decode("utf-8", "replace").lower():
        raise refuse("document_active_content", "the document contains macros or embedded programs.")
    external = refuse("document_external_content",
                      "the document loads content from elsewhere (a remote template, object or field); "
                      "save it again as a plain Word document.")
    if any(_has_harmful_external_target(body) for body in relationships):
        raise external
    for body in fields:
        verdict = _judge_fields(body)
        if verdict == "active":
            raise refuse("document_active_content", "the document contains fields that run commands.")
        if verdict == "external":
            raise external
    return None


_DDE = re.compile(r"\bDDE(AUTO)?\b", re.IGNORECASE)
_REMOTE_FIELD = re.compile(r"\b(INCLUDETEXT|INCLUDEPICTURE|INCLUDE|IMPORT|LINK)\b[^\x00]*?(\w+://|\\\\)",
                           re.IGNORECASE)


def _judge_fields(body: bytes) -> str | None:
    """Word field codes: DDE runs a program when the file opens; INCLUDE* and LINK fetch from a URL or a
    network share (and leak the reader's credentials to it). A field's code may be split over many runs,
    so the pieces are joined before they are read."""
    try:
        root = ElementTree.fromstring(body)
    except (DefusedXmlException, ElementTree.ParseError):
        return "active"
    pieces = []
    for element in root.iter():  # "\x00" between fields, so one field's words never pair with another's URL
        if element.tag.endswith("}instrText") and element.text:
            pieces.append(element.text)
        elif element.tag.endswith("}fldChar"):
            pieces.append("\x00")
        for name, value in element.attrib.items():
            if name.endswith("}instr"):
                pieces.append("\x00" + value + "\x00")
    code = "".join(pieces)
    if _DDE.search(code):
        return "active"
    if _REMOTE_FIELD.search(code):
        return "external"
    return None


_DRIVE = re.compile(r"^[A-Za-z]:")


def _unsafe_member_name(name: str) -> bool:
    """Absolute (/x, \\x, C:x) or climbing (a/../../x) names: no Word document holds one."""
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or bool(_DRIVE.match(name)) or ".." in parts or "\x00" in name


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, allowance: int) -> bytes | None:
    """The member's real content, read a chunk at a time; None once it passes `allowance`.

    The declared size is not trusted: the reader is told the member may be larger, so it inflates until
    the compressed stream really ends (headroom past the allowance, so it never stops early and fails
    the checksum on a partial read)."""
    probe = copy.copy(info)
    probe.file_size = max(allowance, 0) + 4 * _DOCX_CHUNK
    chunks, size = [], 0
    with archive.open(probe) as member:
        while chunk := member.read(_DOCX_CHUNK):
            size += len(chunk)
            if size > allowance:
                return None
            chunks.append(chunk)
    return b"".join(chunks)


def _has_harmful_external_target(body: bytes) -> bool:
    try:
        root = ElementTree.fromstring(body)
    except (DefusedXmlException, ElementTree.ParseError):
        return True  # a relationships part we cannot read cannot be shown to be safe
    for element in root.iter():
        if not element.tag.endswith("Relationship"):
            continue
        if (element.get("TargetMode") or "").lower() == "external" and element.get("Type") not in _HARMLESS_EXTERNAL:
            return True
    return False
