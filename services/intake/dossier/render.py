"""Render a dossier: the summary and the uploaded documents as one PDF, with bookmarks and page numbers,
and its blind variant beside it.

The dossier is what staff open, so it is built inert whatever the uploads held: each uploaded page is
copied as its drawing only (boxes, resources, content streams), never its annotations, actions, forms or
the source document's catalogue; visible annotations (filled-in form fields, stamps) are kept as
drawings. Content streams are copied as stored, still compressed, and the page number is drawn by a
small stream of our own beside them, so no upload is ever decompressed here. pypdf bounds each upload
as inspection does, unless inspection already did on these very bytes; qpdf (pikepdf) reads WeasyPrint's
output and the bounded uploads, copies the pages and writes both variants from one PDF, in C++: in pypdf
that was a tenth of the task. A Word document is
converted to HTML (mammoth), sanitised (nh3: no scripts, no links, images only as bounded `data:` URLs)
and laid out with our stylesheet.

WeasyPrint runs once per dossier: one HTML document holds the summary, the blind summary and every
converted Word document, and its pages are shared out between the two variants. The page numbers of every
page are a few PDF operators in a base-14 font written here, because the total is known only once the
HTML is laid out, and a second HTML render for the stamps cost a third of the task. The stylesheet and
font configuration are parsed once per worker process. The blind variant's laid-out pages are copied with
every picture replaced by a grey pixel: a picture in a Word CV is most often the candidate's photo.
"""
from __future__ import annotations

import base64
import functools
import gc
import hashlib
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import mammoth
import nh3
import pikepdf
from celery.exceptions import SoftTimeLimitExceeded
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pikepdf import Array, Dictionary, Name, OutlineItem, Pdf, Stream, String
from PIL import Image
from pypdf import PdfReader, apply_configuration
from weasyprint import CSS, HTML
from weasyprint.document import Document
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from services.intake.documents.inspect import ACTIVE_ACTIONS, PYPDF_LIMITS, check_pdf_bounds
from services.intake.programme.defaults import DOCX, PDF

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
ASSETS = TEMPLATES / "assets"
A4_WIDTH = 595.28
MB = 1024 * 1024
# uploads are at most 5 + 10 + 5 MB and 10 + 20 + 10 pages: these bounds leave room for the summary
# and stop a dossier that somehow grows far past its inputs before it reaches the disk
MAX_DOSSIER_PAGES = 200
MAX_DOSSIER_BYTES = 64 * MB
MAX_DOCUMENT_PAGES = 50
# qpdf copies and writes objects by recursion: a chain of 100,000 objects (a 5 MB upload) overflowed a worker's
# 8 MB stack, where 50,000 did not. What an upload's pages lead to is bounded well below that (real documents:
# hundreds), and so is how deep it nests (real documents: a dozen levels)
MAX_COPIED_OBJECTS = 20_000
MAX_NESTING = 256
# a converted CV of a few pages is tens of kilobytes of HTML; past this, laying it out would take minutes
MAX_CONVERTED_CHARS = 2_000_000
MAX_IMAGE_BYTES = 2 * MB
MAX_IMAGES_BYTES = 8 * MB
MAX_IMAGE_PIXELS = 25_000_000  # a small PNG may declare a canvas that takes gigabytes once decoded
BLIND_NOTICE = "Blind review: personal details may appear in the applicant's own documents"

_jinja = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))

# what a page needs to be drawn; everything else on an uploaded page (annotations, additional actions,
# thumbnails, transitions, structure links, piece info) is left behind
_PAGE_KEYS = ("/MediaBox", "/CropBox", "/BleedBox", "/TrimBox", "/ArtBox", "/Rotate", "/UserUnit", "/Group",
              "/Resources", "/Contents")
# keys that make a PDF act rather than show; none may survive anywhere in the dossier
_ACTIVE_KEYS = frozenset({"/AA", "/OpenAction", "/JS", "/JavaScript", "/EmbeddedFiles", "/EF", "/AcroForm",
                          "/XFA", "/Annots", "/Names", "/URI"})
# what _scrub looks at, found first in an object's text (qpdf writes names without #-escapes): the objects
# without any (fonts and their widths, nearly all) are not walked key by key, which cost 4 ms a dossier
_SCRUBBED = re.compile(rb"/(?:%s)(?=[\s()<>\[\]{}/%%]|\Z)" % b"|".join(
    re.escape(name[1:].encode()) for name in sorted(_ACTIVE_KEYS | {"/A", "/S", "/Next"})))
_HIDDEN, _NO_VIEW = 2, 32
# what a converted Word document may hold: text structure, tables, inline images; no links, no styles
_DOCX_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "table", "thead", "tbody", "tr", "td",
              "th", "strong", "em", "b", "i", "u", "s", "sup", "sub", "br", "img", "blockquote", "pre", "code",
              "hr"}  # hr: the author's page breaks
_DOCX_ATTRIBUTES = {"img": {"src", "alt"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
_IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif"}


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
    data: bytes | None  # None: not in the document store
    media_type: str = PDF
    filename: str = ""
    # pages the current inspector counted in these very bytes (its walk bounded every object and stream):
    # they are not walked again here. None: judged here, as a file inspection never saw
    inspected_pages: int | None = None


@dataclass(frozen=True)
class Variant:
    """One dossier PDF."""

    pdf: bytes
    pages: int
    sha256: str


@dataclass(frozen=True)
class Rendered(Variant):
    """The full dossier, its blind variant, and the documents staff must open by hand ({code, message})."""

    blind: Variant
    flags: tuple[dict, ...]


class DossierRejected(Exception):
    """The dossier cannot be built within its bounds: a problem code for the application, not a crash."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


_FONTS: FontConfiguration | None = None
_STYLESHEET: CSS | None = None


def _style() -> tuple[FontConfiguration, CSS]:
    # built on first use, not at import: a Celery parent that imports this module forks no font state
    global _FONTS, _STYLESHEET
    if _STYLESHEET is None:
        fonts = FontConfiguration()
        _STYLESHEET = CSS(filename=str(ASSETS / "dossier.css"), font_config=fonts, url_fetcher=SafeFetcher())
        _FONTS = fonts
    return _FONTS, _STYLESHEET


def layout(html: str) -> Document:
    """Our HTML laid out in pages with our stylesheet: the one WeasyPrint pass of a dossier."""
    fonts, stylesheet = _style()
    return HTML(string=html, base_url=str(TEMPLATES) + "/", url_fetcher=SafeFetcher()).render(
        stylesheets=[stylesheet], font_config=fonts)


def html_to_pdf(html: str) -> bytes:
    return layout(html).write_pdf()


def dossier_html(*, context: dict, documents: list[dict], sections: list[dict]) -> str:
    """The summary, the blind summary and the converted documents, as one HTML document."""
    return _jinja.get_template("summary.html").render({**context, "documents": documents, "sections": sections})


@dataclass
class _Part:
    """An uploaded document on its way into the dossier: opened PDF pages, converted HTML, or a flag."""

    label: str
    filename: str
    pdf: Pdf | None = None
    html: str | None = None
    flag: dict | None = None
    pages: list[pikepdf.Page] = field(default_factory=list)


def render_dossier(*, context: dict, attachments: list[Attachment], reference: str,
                   left_out: str | None = None) -> Rendered:
    """The whole dossier and its blind variant; raises DossierRejected when it would exceed its bounds.

    A document that cannot be read or converted is named in the summary and flagged, never a failed render.
    With `left_out` (a code of _LEFT_OUT), no document is opened: each is named and flagged with that code.
    """
    _freeze_what_lives_on()
    digest = hashlib.sha256()  # what the documents hold, for the dossier's file identifier
    for attachment in attachments:
        digest.update(attachment.data or b"")
    uploads = digest.digest()
    parts: list[_Part] = []
    try:
        with apply_configuration(None, **PYPDF_LIMITS):  # None: on top of the current configuration
            for attachment in attachments:
                parts.append(_prepare(attachment) if left_out is None else _left_out(attachment, left_out))
        while True:
            try:
                return _render(context=context, parts=parts, reference=reference, uploads=uploads)
            except _PartFailed as failed:
                # found only once laid out or copied: left out, and the summary (laid out again) says so
                for part in failed.parts:
                    _close(part)
                    part.html, part.pages, part.flag = None, [], _flag(part, failed.code)
    finally:
        for part in parts:
            _close(part)


def _close(part: _Part) -> None:
    # qpdf's memory goes now, not when the collector finds the Pdf (cycles are collected seldom here)
    if part.pdf is not None:
        part.pdf.close()
        part.pdf = None


_WORKER = {"rendered": 0, "frozen": False}
# A render allocates WeasyPrint's boxes, then pypdf's objects, that live until its PDF is written: at the
# default thresholds (700, 10, 10) the collector kept walking them (a middle-generation collection took
# about 30 ms), and the task spent a third to a half more beyond WeasyPrint's own time. A render's
# garbage cycles (some 15,000 objects) still go within a render or two: resident memory stays flat.
_GC_THRESHOLDS = (50_000, 20, 20)


def _freeze_what_lives_on() -> None:
    # After a first render the worker's long-lived objects exist (fonts, stylesheet, WeasyPrint's and pypdf's
    # caches, modules): moved out of the cyclic collector's reach, they stop being traversed at every
    # collection, which cost a sixth of a render and most of a DOCX conversion. The first render's own
    # objects are garbage by now and are collected first; then the thresholds are raised.
    _WORKER["rendered"] += 1
    if _WORKER["rendered"] == 2 and not _WORKER["frozen"]:
        _WORKER["frozen"] = True
        gc.collect()
        gc.freeze()
        gc.set_threshold(*_GC_THRESHOLDS)


class _PartFailed(Exception):
    def __init__(self, code: str, *parts: _Part):
        super().__init__(code)
        self.parts, self.code = parts, code


_LEFT_OUT = {"document_missing": "the stored file is missing or cannot be opened",
             "document_unreadable": "the PDF could not be read",
             "document_not_converted": "the Word document could not be converted",
             "document_not_rendered": "the dossier could not be built with it within the time and memory allowed"}


def _flag(part: _Part, code: str) -> dict:
    log.warning("document left out of the dossier", extra={"code": code})
    return {"code": code, "message": f"{part.label}: {_LEFT_OUT[code]}; it is not in the dossier, open it separately."}


def _left_out(attachment: Attachment, code: str) -> _Part:
    part = _Part(attachment.label, attachment.filename)
    part.flag = _flag(part, code)
    return part


def _prepare(attachment: Attachment) -> _Part:
    part = _Part(attachment.label, attachment.filename)
    if attachment.data is None:
        part.flag = _flag(part, "document_missing")
    elif attachment.media_type == DOCX:
        part.html = convert_docx(attachment.data)
        if part.html is None:
            part.flag = _flag(part, "document_not_converted")
    else:
        try:
            part.pdf = _open_pdf(attachment.data, attachment.inspected_pages)
        except Exception:  # noqa: BLE001 - whatever a hostile file makes pypdf raise, it is an unreadable document
            part.flag = _flag(part, "document_unreadable")
    return part


def _open_pdf(data: bytes, inspected_pages: int | None = None) -> Pdf:
    """The PDF read whole and within bounds before anything is laid out; raises on any file that is not.

    pypdf judges the bounds (as inspection does, on every object) unless inspection already did on these
    bytes; qpdf, given only a file that passed, copies the pages."""
    count = _pypdf_bounded_pages(data) if inspected_pages is None else inspected_pages
    if not 0 < count <= MAX_DOCUMENT_PAGES:
        raise ValueError(f"{count} pages")
    pdf = pikepdf.open(io.BytesIO(data))
    try:
        if len(pdf.pages) != count:  # a file the two readers understand differently is not one to copy
            raise ValueError("page counts differ")
        for page in pdf.pages:
            left, bottom, right, top = _floats(page.mediabox, 4)
            if right <= left or top <= bottom:
                raise ValueError("a page without an area")
        _check_copyable(pdf)
    except BaseException:
        pdf.close()
        raise
    return pdf


def _pypdf_bounded_pages(data: bytes) -> int:
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        raise ValueError("encrypted")
    check_pdf_bounds(reader)
    return len(reader.pages)  # a page tree that loops fails here, not mid-copy


def _check_copyable(pdf: Pdf) -> None:
    """Raise ValueError unless what the pages lead to (all qpdf may copy, whatever the order it goes in)
    is within MAX_COPIED_OBJECTS, and no deeper than MAX_NESTING."""
    if len(pdf.objects) <= MAX_NESTING:  # what the pages reach, and how deep, is at most every object there is
        return
    # each object read as its text, references and all, by qpdf: walking its values from Python cost more
    # than the rest of the copy (a font's widths are hundreds of numbers); a string that looks like a
    # reference only counts one more object
    seen: set[tuple[int, int]] = set()
    stack = [(_references(b" ".join(value.unparse() for key, value in page.obj.items()
                                    if key != "/Parent" and isinstance(value, pikepdf.Object))), 1)
             for page in pdf.pages]  # the page tree (/Parent) is not copied; numbers and names refer to nothing
    while stack:
        references, depth = stack.pop()
        for objgen in references:
            if objgen in seen:
                continue
            if depth > MAX_NESTING:
                raise ValueError("objects nested too deep")
            seen.add(objgen)
            if len(seen) > MAX_COPIED_OBJECTS:
                raise ValueError("too many objects")
            item = pdf.get_object(objgen)
            if isinstance(item, Stream):
                item = item.stream_dict
            if isinstance(item, Dictionary | Array):
                stack.append((_references(item.unparse(resolved=True)), depth + 1))


_REFERENCE = re.compile(rb"(\d+) (\d+) R\b")


def _references(text: bytes) -> list[tuple[int, int]]:
    return [(int(number), int(generation)) for number, generation in _REFERENCE.findall(text)]


def _description(part: _Part) -> str:
    if part.flag is not None:
        return f"{_LEFT_OUT[part.flag['code']]}; not in the dossier, open it separately"
    if part.pdf is not None:
        return f"{len(part.pdf.pages)} pages, appended"
    return "Word document, converted and appended"


def _render(*, context: dict, parts: list[_Part], reference: str, uploads: bytes) -> Rendered:
    documents = [{"label": p.label, "filename": p.filename, "description": _description(p)} for p in parts]
    converted = [(f"nip-document-{n}", p) for n, p in enumerate(parts) if p.html is not None]
    html = dossier_html(context=context, documents=documents,
                        sections=[{"anchor": anchor, "label": p.label, "html": p.html} for anchor, p in converted])
    try:
        document = layout(html)
    except SoftTimeLimitExceeded:
        if not converted:
            raise
        # the task's time limit fell while Word documents were laid out: which one is slow is not known, so
        # all are left out, and the summary alone is laid out again in the time left before the hard limit
        raise _PartFailed("document_not_converted", *(part for _, part in converted)) from None
    starts: dict[str, int] = {}
    for number, page in enumerate(document.pages):
        for name in page.anchors:  # a section split over pages is anchored on each: its first page counts
            starts.setdefault(name, number)
    # our own file, read by qpdf: it parses only the objects copied, in C++ (pypdf parsing it cost 3 ms)
    with pikepdf.open(io.BytesIO(document.write_pdf())) as source:
        laid_out = list(source.pages)
        bounds = [starts["nip-blind"], *(starts[anchor] for anchor, _ in converted), len(laid_out)]
        summary, blind_summary = laid_out[:bounds[0]], laid_out[bounds[0]:bounds[1]]
        for (_, part), first, end in zip(converted, bounds[1:], bounds[2:]):
            part.pages = laid_out[first:end]
            if len(part.pages) > MAX_DOCUMENT_PAGES:
                raise _PartFailed("document_not_converted", part)
        for part in parts:
            if part.pdf is not None:
                part.pages = list(part.pdf.pages)
        included = [p for p in parts if p.flag is None]
        # the file identifier is drawn from what the dossier is made of: the same inputs give the same bytes
        made_of = uploads + html.encode()
        blind, full = _assemble(reference=reference, summaries=(blind_summary, summary), parts=included,
                                file_ids=(hashlib.sha256(made_of + b"blind").digest()[:16],
                                          hashlib.sha256(made_of).digest()[:16]))
    return Rendered(full.pdf, full.pages, full.sha256, blind=blind,
                    flags=tuple(p.flag for p in parts if p.flag is not None))


def _assemble(*, reference: str, summaries: tuple[list[pikepdf.Page], list[pikepdf.Page]], parts: list[_Part],
              file_ids: tuple[bytes, bytes]) -> tuple[Variant, Variant]:
    """The blind variant, then the full one, written from one PDF: what the two share (the uploads, the
    summary's fonts) is copied and swept once. The blind one is written first, so its file cannot hold the
    full summary even as an unreferenced object (qpdf writes only what the trailer reaches, in any case)."""
    totals = [len(summary) + sum(len(p.pages) for p in parts) for summary in summaries]
    if max(totals) > MAX_DOSSIER_PAGES:
        raise DossierRejected("dossier_too_many_pages",
                              f"The dossier would have {max(totals)} pages; at most {MAX_DOSSIER_PAGES}.")
    variants = []
    with Pdf.new() as pdf:
        resources = _stamp_resources(pdf)
        swept: set[tuple[int, int]] = set()
        for blind, summary, total, file_id in zip((True, False), summaries, totals, file_ids):
            del pdf.pages[:]  # the blind variant's pages: unreferenced once the full one's replace them
            notice = _stamp_form(pdf, BLIND_NOTICE, resources) if blind else None
            # a picture in a converted Word document is most often the candidate's photo: the blind variant's
            # laid-out pages show a grey box in its place, and the picture itself never reaches the blind file
            blank = _Blank(pdf) if blind else None
            marks = []
            for label, pages, part in [("Summary", summary, None), *((p.label, p.pages, p) for p in parts)]:
                first = len(pdf.pages)
                laid_out = part is None or part.html is not None
                try:
                    for number, page in enumerate(pages):
                        stamps = [(_stamp_form(pdf, f"{reference} \u00b7 page {len(pdf.pages) + 1} of {total}",
                                               resources), False)]
                        if notice is not None and part is not None and number == 0:
                            stamps.append((notice, True))
                        _add_inert_page(pdf, page, stamps, blank if laid_out else None)
                except Exception:  # noqa: BLE001 - an upload qpdf cannot copy is left out, not a crash
                    if part is None:
                        raise
                    raise _PartFailed("document_unreadable", part) from None
                marks.append(OutlineItem(label, first))
            with pdf.open_outline() as outline:
                outline.root[:] = marks
            pdf.docinfo[Name.Title] = f"{'Blind dossier' if blind else 'Dossier'} {reference}"
            pdf.docinfo[Name.Producer] = "NIP pipeline"
            _scrub(pdf, swept)
            pdf.trailer[Name.ID] = Array([String(file_id), String(file_id)])
            data = _serialised(pdf)
            variants.append(Variant(data, total, hashlib.sha256(data).hexdigest()))
    return variants[0], variants[1]


def convert_docx(data: bytes) -> str | None:
    """The Word document as sanitised HTML, or None when it cannot be converted."""
    images = _InlineImages()
    try:
        # external_file_access: never read a file or URL the document points to (an image "linked" to
        # file:///etc/passwd); False is mammoth's default since 1.11, said here so no upgrade can change it
        result = mammoth.convert_to_html(io.BytesIO(data), convert_image=mammoth.images.img_element(images),
                                         style_map="br[type='page'] => hr", external_file_access=False)
        if len(result.value) > MAX_CONVERTED_CHARS:
            raise ValueError("too long")
        return nh3.clean(result.value, tags=_DOCX_TAGS, attributes=_DOCX_ATTRIBUTES, url_schemes={"data"},
                         link_rel=None)
    except Exception as exc:  # noqa: BLE001 - any failure, the time limit's included, is a document staff open by hand
        log.warning("docx not converted", extra={"error": type(exc).__name__})
        return None


class _InlineImages:
    """Images of a Word document as `data:` URLs, judged by their content and bounded; others dropped."""

    def __init__(self):
        self.left = MAX_IMAGES_BYTES

    def __call__(self, image) -> dict:
        with image.open() as source:
            body = source.read(MAX_IMAGE_BYTES + 1)
        kind = _image_kind(body) if len(body) <= min(MAX_IMAGE_BYTES, self.left) else None
        if kind is None:
            return {"alt": "[image not shown]"}
        self.left -= len(body)
        return {"src": f"data:{kind};base64,{base64.b64encode(body).decode()}"}


def _image_kind(body: bytes) -> str | None:
    try:
        with Image.open(io.BytesIO(body)) as image:  # reads the header only: no pixel is decoded here
            width, height, kind = image.width, image.height, _IMAGE_FORMATS.get(image.format or "")
    except Exception:  # noqa: BLE001 - not an image Pillow knows: dropped
        return None
    return kind if width * height <= MAX_IMAGE_PIXELS else None


def _serialised(pdf: Pdf) -> bytes:
    """The dossier's bytes; DossierRejected past MAX_DOSSIER_BYTES, judged on its streams before it is written."""
    # streams are nearly all of a PDF's bytes: a runaway dossier is refused before it is serialised, let
    # alone stored
    streams = sum(len(o.read_raw_bytes()) for o in pdf.objects if isinstance(o, Stream))
    if streams > MAX_DOSSIER_BYTES:
        raise DossierRejected("dossier_too_large", f"The dossier would be larger than {MAX_DOSSIER_BYTES // MB} MB.")
    sink = io.BytesIO()
    # every stream written as stored: qpdf's default would decode and recompress some filters (LZW, ASCII85),
    # expanding whatever an upload's streams hold; ours are a few operators, not worth compressing. The file
    # identifier's first half is the trailer's, set from the inputs; with static_id qpdf does not draw the
    # second from the clock, nor from an MD5 of the whole output (deterministic_id: 0.5 ms a variant)
    pdf.save(sink, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none, static_id=True)
    if sink.tell() > MAX_DOSSIER_BYTES:
        raise DossierRejected("dossier_too_large", f"The dossier would be larger than {MAX_DOSSIER_BYTES // MB} MB.")
    return sink.getvalue()


def _copied(pdf: Pdf, value):
    """`value`, of another PDF, made `pdf`'s: indirect objects by qpdf (each once per dossier, with all they
    refer to: _scrub judges it), the direct dictionaries and arrays around them here."""
    if isinstance(value, pikepdf.Object) and value.is_indirect:
        return pdf.copy_foreign(value)
    if isinstance(value, Dictionary):
        return Dictionary({key: _copied(pdf, item) for key, item in value.items()})
    if isinstance(value, Array):
        return Array([_copied(pdf, item) for item in value])
    return value  # numbers, names, strings: no owner


def _add_inert_page(pdf: Pdf, page: pikepdf.Page, stamps: list[tuple[Stream, bool]],
                    blank: _Blank | None = None) -> None:
    """Copy the page's drawing, its visible annotations as drawings, and our stamps on top: (form, at the
    top of the page rather than its bottom); with `blank`, every picture drawn as a grey box instead."""
    source = page.obj  # inherited boxes and resources are on it: pikepdf pushes them down when it opens a file
    left, bottom, right, top = _floats(page.mediabox, 4)
    clean = Dictionary(Type=Name.Page, MediaBox=Array([left, bottom, right, top]))
    for key in _PAGE_KEYS:
        if key in source and key not in ("/MediaBox", "/Resources", "/Contents"):
            clean[key] = _copied(pdf, source[key])
    resources = Dictionary()
    source_resources = source.get("/Resources")
    foreign: dict = {}  # the page's XObjects, still the source's
    if isinstance(source_resources, Dictionary):
        for key, item in source_resources.items():
            if key != "/XObject":
                resources[key] = _copied(pdf, item)
        source_xobjects = source_resources.get("/XObject")
        if isinstance(source_xobjects, Dictionary):
            foreign.update(source_xobjects.items())
    drawings = b""
    for appearance, matrix in _visible_appearances(source):
        name = _free_name(foreign, "/NipAnnot")
        foreign[name] = appearance
        drawings += b"q %s cm %s Do Q\n" % (_numbers(matrix), name.encode())
    xobjects = blank.xobjects(foreign) if blank is not None else Dictionary(
        {key: _copied(pdf, item) for key, item in foreign.items()})
    offset_x = left + (right - left - A4_WIDTH) / 2
    for stamp, at_top in stamps:
        stamp_name = _free_name(xobjects, "/NipStamp")
        xobjects[stamp_name] = stamp
        offset_y = top - _STAMP_HEIGHT if at_top else bottom
        drawings += b"q 1 0 0 1 %s cm %s Do Q\n" % (_numbers([offset_x, offset_y]), stamp_name.encode())
    resources[Name.XObject] = xobjects
    clean[Name.Resources] = resources

    # the page's own streams stay as stored; ours go around them, the page's graphics state isolated
    contents = source.get("/Contents")
    streams = list(contents) if isinstance(contents, Array) else [contents]
    clean[Name.Contents] = Array([pdf.make_stream(b"q\n"),
                                  *(pdf.copy_foreign(s) for s in streams if isinstance(s, Stream)),
                                  pdf.make_stream(b"\nQ\n" + drawings)])
    pdf.pages.append(pikepdf.Page(pdf.make_indirect(clean)))


class _Blank:
    """Picture-free copies of laid-out pages' XObjects for one dossier: each image replaced by one grey pixel
    (drawn over the image's whole box), each form that holds images copied with its own replaced."""

    MAX_DEPTH = 8  # WeasyPrint nests a form or two (opacity, transforms); ours, so never deep

    def __init__(self, pdf: Pdf):
        self.pdf = pdf
        self.pixel = pdf.make_stream(b"\xd0", Type=Name.XObject, Subtype=Name.Image, Width=1, Height=1,
                                     ColorSpace=Name.DeviceGray, BitsPerComponent=8)
        self.forms: dict[tuple[int, int], Stream] = {}

    def xobjects(self, xobjects, depth: int = 0) -> Dictionary:
        """`xobjects` (name: object of the source) with every image, at any depth of forms, replaced by the
        grey pixel, and the rest copied."""
        if depth > self.MAX_DEPTH:
            raise ValueError("forms nested too deep")
        blanked = Dictionary()
        for name, item in xobjects.items():
            if isinstance(item, Stream | Dictionary) and item.get("/Subtype") == Name.Image:
                blanked[name] = self.pixel
            elif isinstance(item, Stream) and isinstance(item.get("/Resources"), Dictionary):
                blanked[name] = self._form(item, depth)
            else:
                blanked[name] = _copied(self.pdf, item)
        return blanked

    def _form(self, form: Stream, depth: int) -> Stream:
        if form.objgen not in self.forms:
            source_resources = form.Resources
            resources = Dictionary({key: _copied(self.pdf, item) for key, item in source_resources.items()
                                    if key != "/XObject"})
            inner = source_resources.get("/XObject")
            if isinstance(inner, Dictionary):
                resources[Name.XObject] = self.xobjects(inner, depth + 1)
            copy = self.pdf.make_stream(form.read_raw_bytes())  # the drawing as stored, still compressed
            for key, item in form.stream_dict.items():
                if key not in ("/Length", "/Resources"):
                    copy[key] = _copied(self.pdf, item)
            copy[Name.Resources] = resources
            self.forms[form.objgen] = copy
        return self.forms[form.objgen]


def _visible_appearances(page: Dictionary):
    """(appearance stream, placement matrix) for each annotation a viewer would draw: form fields as
    filled in, stamps, highlights. The annotation itself, with any action it carries, is not copied."""
    annotations = page.get("/Annots")
    for annotation in annotations if isinstance(annotations, Array) else []:
        if not isinstance(annotation, Dictionary) or int(annotation.get("/F", 0)) & (_HIDDEN | _NO_VIEW):
            continue
        appearances = annotation.get("/AP")
        normal = appearances.get("/N") if isinstance(appearances, Dictionary) else None
        if isinstance(normal, Dictionary):  # appearance states (a stream is not a Dictionary in pikepdf)
            state = annotation.get("/AS")
            normal = normal.get(state) if isinstance(state, Name) else None
        if not isinstance(normal, Stream) or "/BBox" not in normal or "/Rect" not in annotation:
            continue
        matrix = _placement(normal, annotation.get("/Rect"))
        if matrix is not None and normal.is_indirect:
            yield normal, matrix


def _placement(form: Stream, rect) -> list[float] | None:
    # PDF 32000 12.5.5: the form's BBox, transformed by its Matrix, is fitted to the annotation's Rect
    x0, y0, x1, y1 = _floats(form.get("/BBox"), 4)
    a, b, c, d, e, f = _floats(form.get("/Matrix", [1, 0, 0, 1, 0, 0]), 6)
    corners = [(a * x + c * y + e, b * x + d * y + f) for x in (x0, x1) for y in (y0, y1)]
    left, right = min(p[0] for p in corners), max(p[0] for p in corners)
    bottom, top = min(p[1] for p in corners), max(p[1] for p in corners)
    r0, s0, r1, s1 = _floats(rect, 4)
    r0, r1, s0, s1 = min(r0, r1), max(r0, r1), min(s0, s1), max(s0, s1)
    if right - left <= 0 or top - bottom <= 0:
        return None
    sx, sy = (r1 - r0) / (right - left), (s1 - s0) / (top - bottom)
    return [sx, 0, 0, sy, r0 - sx * left, s0 - sy * bottom]


def _floats(values, count: int) -> list[float]:
    numbers = [float(v) for v in values]
    if len(numbers) != count:
        raise ValueError("malformed rectangle or matrix")
    return numbers


# Helvetica's advance widths (thousandths of the font size) for what a stamp holds, to centre it
_HELVETICA = {**dict.fromkeys("0123456789", 556), " ": 278, "\u00b7": 278, "-": 333, ":": 278, "'": 191,
              ",": 278, ".": 278, **dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", (
                  667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722,
                  667, 611, 722, 667, 944, 667, 667, 611))), **dict(zip("abcdefghijklmnopqrstuvwxyz", (
                  556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333,
                  500, 278, 556, 500, 722, 500, 500, 500)))}
_STAMP_SIZE, _STAMP_HEIGHT = 8, 40


def _stamp_resources(pdf: Pdf) -> Dictionary:
    """Font and transparency of the page numbers, once per dossier and shared by every stamp."""
    font = pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica,
                                        Encoding=Name.WinAnsiEncoding))
    veil = pdf.make_indirect(Dictionary(Type=Name.ExtGState, ca=0.85))
    return pdf.make_indirect(Dictionary(Font=Dictionary(F1=font), ExtGState=Dictionary(GS1=veil)))


def _stamp_form(pdf: Pdf, text: str, resources: Dictionary) -> Stream:
    """A form XObject the width of an A4 page drawing `text` centred near its bottom on a light veil, as
    the summary's footer looked when WeasyPrint drew it."""
    return pdf.make_stream(_stamp_drawing(text), Type=Name.XObject, Subtype=Name.Form,
                           BBox=Array([0, 0, A4_WIDTH, _STAMP_HEIGHT]), Resources=resources)


@functools.lru_cache(maxsize=256)
def _stamp_drawing(text: str) -> bytes:
    # the blind notice is drawn once per worker; page numbers pass through a small bounded cache
    encoded = text.encode("cp1252", "replace")  # WinAnsiEncoding; references and digits are ASCII
    for special in (b"\\", b"(", b")"):
        encoded = encoded.replace(special, b"\\" + special)
    width = sum(_HELVETICA.get(c, 556) for c in text) * _STAMP_SIZE / 1000
    x, y, pad = (A4_WIDTH - width) / 2, 5 * 72 / 25.4, 3 * 72 / 25.4
    return b"q /GS1 gs 1 g %s re f Q q 0.267 g BT /F1 %d Tf %s Td (%s) Tj ET Q" % (
        _numbers([x - pad, y - 3, width + 2 * pad, _STAMP_SIZE + 5]), _STAMP_SIZE, _numbers([x, y]), encoded)


def _free_name(names, base: str) -> str:
    name, n = base, 0
    while name in names:
        n += 1
        name = f"{base}{n}"
    return name


def _numbers(values) -> bytes:
    return b" ".join(f"{v:.4f}".rstrip("0").rstrip(".").encode() or b"0" for v in values)


def _scrub(pdf: Pdf, swept: set[tuple[int, int]]) -> None:
    """Belt and braces: whatever reached the dossier through resources loses any key that acts. `swept`: the
    indirect objects already swept (this sweep adds to it), left as they are."""
    for top in [pdf.trailer, *pdf.objects]:  # every indirect object, and the direct ones within each
        if top.is_indirect:
            if top.objgen in swept:
                continue
            swept.add(top.objgen)
        if not isinstance(top, Dictionary | Array | Stream) or not _SCRUBBED.search(
                (top.stream_dict if isinstance(top, Stream) else top).unparse(resolved=True)):
            continue
        stack = [top]
        while stack:
            item = stack.pop()
            if isinstance(item, Dictionary | Stream):
                for key in item.keys() & _ACTIVE_KEYS:
                    del item[key]
                action = item.get("/A")
                if isinstance(action, Dictionary) and action.get("/S") != Name.GoTo:
                    del item["/A"]
                if "/S" in item and "/Next" in item:  # an action's chain; outline items' /Next is a sibling
                    del item["/Next"]
                kind = item.get("/S")
                if isinstance(kind, Name) and str(kind) in ACTIVE_ACTIONS:  # without its type, it does nothing
                    del item["/S"]
                children = item.values()
            else:
                children = item
            stack.extend(child for child in children
                         if isinstance(child, Dictionary | Array | Stream) and not child.is_indirect)
