"""Render a dossier: WeasyPrint summary + uploaded PDFs (pypdf), with bookmarks and page numbers.

The dossier is what staff open, so it is built inert whatever the uploads held: each uploaded page is
copied as its drawing only (boxes, resources, content streams), never its annotations, actions, forms or
the source document's catalogue; visible annotations (filled-in form fields, stamps) are kept as
drawings. Content streams are copied as stored, still compressed, and the page number is drawn by a
small stream of our own beside them, so no upload is ever decompressed here.

WeasyPrint runs once per dossier (the summary); the page numbers of every page are a few PDF operators in
a base-14 font written here, because the total is known only once the summary is laid out, and a second
HTML render for the stamps cost a third of the task. The stylesheet and font configuration are parsed
once per worker process.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pypdf import PageObject, PdfReader, PdfWriter, apply_configuration
from pypdf.errors import PyPdfError
from pypdf.generic import (
    ArrayObject, DecodedStreamObject, DictionaryObject, FloatObject, IndirectObject, NameObject, NumberObject,
    StreamObject,
)
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from services.intake.documents.inspect import ACTIVE_ACTIONS, PYPDF_LIMITS, resolved

TEMPLATES = Path(__file__).resolve().parent / "templates"
ASSETS = TEMPLATES / "assets"
A4_WIDTH = 595.28
MB = 1024 * 1024
# uploads are at most 5 + 10 + 5 MB and 10 + 20 + 10 pages: these bounds leave room for the summary
# and stop a dossier that somehow grows far past its inputs before it reaches the disk
MAX_DOSSIER_PAGES = 200
MAX_DOSSIER_BYTES = 64 * MB

_jinja = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))

# what a page needs to be drawn; everything else on an uploaded page (annotations, additional actions,
# thumbnails, transitions, structure links, piece info) is left behind
_PAGE_KEYS = ("/MediaBox", "/CropBox", "/BleedBox", "/TrimBox", "/ArtBox", "/Rotate", "/UserUnit", "/Group",
              "/Resources", "/Contents")
# keys that make a PDF act rather than show; none may survive anywhere in the dossier
_ACTIVE_KEYS = frozenset({"/AA", "/OpenAction", "/JS", "/JavaScript", "/EmbeddedFiles", "/EF", "/AcroForm",
                          "/XFA", "/Annots", "/Names", "/URI"})
_HIDDEN, _NO_VIEW = 2, 32


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


def html_to_pdf(html: str) -> bytes:
    fonts, stylesheet = _style()
    return HTML(string=html, base_url=str(TEMPLATES) + "/", url_fetcher=SafeFetcher()).write_pdf(
        stylesheets=[stylesheet], font_config=fonts)


def render_summary(context: dict) -> bytes:
    return html_to_pdf(_jinja.get_template("summary.html").render(**context))


def render_dossier(*, context: dict, attachments: list[Attachment], reference: str) -> Rendered:
    """The whole dossier as one PDF; raises DossierRejected when it would exceed its bounds."""
    summary = render_summary(context)
    try:
        with apply_configuration(**PYPDF_LIMITS):
            parts = [("Summary", PdfReader(io.BytesIO(summary)))]
            parts += [(a.label, PdfReader(io.BytesIO(a.data), strict=False)) for a in attachments
                      if a.data is not None]
            total = sum(len(reader.pages) for _, reader in parts)
            if total > MAX_DOSSIER_PAGES:
                raise DossierRejected("dossier_too_many_pages",
                                      f"The dossier would have {total} pages; at most {MAX_DOSSIER_PAGES}.")
            writer = PdfWriter()
            stamp_resources = _stamp_resources(writer)
            for label, reader in parts:
                first = len(writer.pages)
                for page in reader.pages:
                    text = f"{reference} \u00b7 page {len(writer.pages) + 1} of {total}"
                    _add_inert_page(writer, page, _stamp_form(writer, text, stamp_resources))
                writer.add_outline_item(label, first)
            writer.add_metadata({"/Title": f"Dossier {reference}", "/Producer": "NIP pipeline"})
            _scrub(writer)
            sink = _CappedBuffer(MAX_DOSSIER_BYTES)
            writer.write(sink)
    except DossierRejected:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise DossierRejected("dossier_unreadable_document",
                              f"An uploaded PDF could not be copied into the dossier ({type(exc).__name__}).") from None
    pdf = sink.getvalue()
    return Rendered(pdf, total, hashlib.sha256(pdf).hexdigest())


class _CappedBuffer(io.BytesIO):
    """Refuses to grow past `limit`: a runaway dossier fails before it is held or stored whole."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit
        self.left = limit  # pypdf writes a dossier in thousands of small pieces, appended in order

    def write(self, data) -> int:
        self.left -= len(data)
        if self.left < 0:
            raise DossierRejected("dossier_too_large",
                                  f"The dossier would be larger than {self.limit // MB} MB.")
        return super().write(data)


def _add_inert_page(writer: PdfWriter, page: PageObject, stamp: IndirectObject) -> None:
    """Copy the page's drawing, its visible annotations as drawings, and our page number on top."""
    clean = PageObject()
    clean[NameObject("/Type")] = NameObject("/Page")
    for key in _PAGE_KEYS:
        if key in page:
            clean[NameObject(key)] = page.raw_get(key)
    clean[NameObject("/MediaBox")] = page.mediabox
    resources = DictionaryObject()
    source_resources = resolved(page, "/Resources")
    if isinstance(source_resources, DictionaryObject):
        resources.update({NameObject(k): source_resources.raw_get(k) for k in source_resources})
    xobjects = DictionaryObject()
    source_xobjects = resolved(resources, "/XObject")
    if isinstance(source_xobjects, DictionaryObject):
        xobjects.update({NameObject(k): source_xobjects.raw_get(k) for k in source_xobjects})
    drawings = b""
    for appearance, matrix in _visible_appearances(page):
        name = _free_name(xobjects, "/NipAnnot")
        xobjects[NameObject(name)] = appearance
        drawings += b"q %s cm %s Do Q\n" % (_numbers(matrix), name.encode())
    resources[NameObject("/XObject")] = xobjects
    clean[NameObject("/Resources")] = resources

    added = writer.add_page(clean)  # clones what the clean page refers to, and nothing else
    box = page.mediabox
    stamp_name = _free_name(added["/Resources"]["/XObject"], "/NipPageNumber")
    added["/Resources"]["/XObject"][NameObject(stamp_name)] = stamp
    offset_x = float(box.left) + (float(box.width) - A4_WIDTH) / 2
    drawings += b"q 1 0 0 1 %s cm %s Do Q\n" % (_numbers([offset_x, float(box.bottom)]), stamp_name.encode())

    # the page's own streams stay as stored; ours go around them, the page's graphics state isolated
    contents = added.raw_get("/Contents") if "/Contents" in added else None
    streams = []
    if contents is not None:
        target = contents.get_object()
        streams = list(target) if isinstance(target, ArrayObject) else [contents]
    added[NameObject("/Contents")] = ArrayObject(
        [_stream(writer, b"q\n"), *streams, _stream(writer, b"\nQ\n" + drawings)])


def _visible_appearances(page: PageObject):
    """(appearance stream, placement matrix) for each annotation a viewer would draw: form fields as
    filled in, stamps, highlights. The annotation itself, with any action it carries, is not copied."""
    annotations = resolved(page, "/Annots")
    for ref in annotations if isinstance(annotations, ArrayObject) else []:
        annotation = ref.get_object()
        if not isinstance(annotation, DictionaryObject) or int(resolved(annotation, "/F", 0)) & (_HIDDEN | _NO_VIEW):
            continue
        appearances = resolved(annotation, "/AP")
        normal = resolved(appearances, "/N") if isinstance(appearances, DictionaryObject) else None
        if isinstance(normal, DictionaryObject) and not isinstance(normal, StreamObject):
            state = resolved(annotation, "/AS")
            normal = resolved(normal, state) if state is not None else None
        if not isinstance(normal, StreamObject) or "/BBox" not in normal or "/Rect" not in annotation:
            continue
        matrix = _placement(normal, resolved(annotation, "/Rect"))
        if matrix is not None and normal.indirect_reference is not None:
            yield normal.indirect_reference, matrix


def _placement(form: StreamObject, rect) -> list[float] | None:
    # PDF 32000 12.5.5: the form's BBox, transformed by its Matrix, is fitted to the annotation's Rect
    x0, y0, x1, y1 = _floats(form["/BBox"], 4)
    a, b, c, d, e, f = _floats(resolved(form, "/Matrix", ArrayObject([1, 0, 0, 1, 0, 0])), 6)
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
    numbers = [float(v.get_object() if hasattr(v, "get_object") else v) for v in values]
    if len(numbers) != count:
        raise ValueError("malformed rectangle or matrix")
    return numbers


# Helvetica's advance widths (thousandths of the font size) for what a stamp holds, to centre it
_HELVETICA = {**dict.fromkeys("0123456789", 556), " ": 278, "\u00b7": 278, "-": 333, "p": 556, "a": 556,
              "g": 556, "e": 556, "o": 556, "f": 278, **dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", (
                  667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722,
                  667, 611, 722, 667, 944, 667, 667, 611)))}
_STAMP_SIZE, _STAMP_HEIGHT = 8, 40


def _stamp_resources(writer: PdfWriter) -> IndirectObject:
    """Font and transparency of the page numbers, once per dossier and shared by every stamp."""
    font = DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"), NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
    })
    veil = DictionaryObject({NameObject("/Type"): NameObject("/ExtGState"), NameObject("/ca"): FloatObject(0.85)})
    return writer._add_object(DictionaryObject({
        NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)}),
        NameObject("/ExtGState"): DictionaryObject({NameObject("/GS1"): writer._add_object(veil)}),
    }))


def _stamp_form(writer: PdfWriter, text: str, resources: IndirectObject) -> IndirectObject:
    """A form XObject the width of an A4 page drawing `text` centred near its bottom on a light veil, as
    the summary's footer looked when WeasyPrint drew it."""
    encoded = text.encode("cp1252", "replace")  # WinAnsiEncoding; references and digits are ASCII
    for special in (b"\\", b"(", b")"):
        encoded = encoded.replace(special, b"\\" + special)
    width = sum(_HELVETICA.get(c, 556) for c in text) * _STAMP_SIZE / 1000
    x, y, pad = (A4_WIDTH - width) / 2, 5 * 72 / 25.4, 3 * 72 / 25.4
    form = DecodedStreamObject()
    form.set_data(b"q /GS1 gs 1 g %s re f Q q 0.267 g BT /F1 %d Tf %s Td (%s) Tj ET Q" % (
        _numbers([x - pad, y - 3, width + 2 * pad, _STAMP_SIZE + 5]), _STAMP_SIZE, _numbers([x, y]), encoded))
    form.update({
        NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Form"),
        NameObject("/BBox"): ArrayObject([NumberObject(0), NumberObject(0), FloatObject(A4_WIDTH),
                                          NumberObject(_STAMP_HEIGHT)]),
        NameObject("/Resources"): resources,
    })
    return writer._add_object(form)


def _stream(writer: PdfWriter, data: bytes) -> IndirectObject:
    stream = DecodedStreamObject()
    stream.set_data(data)
    return writer._add_object(stream.flate_encode() if len(data) > 64 else stream)


def _free_name(names: DictionaryObject, base: str) -> str:
    name, n = base, 0
    while name in names:
        n += 1
        name = f"{base}{n}"
    return name


def _numbers(values) -> bytes:
    return b" ".join(f"{v:.4f}".rstrip("0").rstrip(".").encode() or b"0" for v in values)


def _scrub(writer: PdfWriter) -> None:
    """Belt and braces: whatever reached the writer through resources loses any key that acts."""
    seen: set[int] = set()
    stack: list = [writer._root_object, *(o for o in writer._objects if o is not None)]
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            continue  # every indirect object is in writer._objects and is visited there
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, DictionaryObject):
            # dict's own views: outline nodes (TreeObject) iterate over their children instead
            for key in [k for k in dict.keys(item) if k in _ACTIVE_KEYS]:
                del item[key]
            action = resolved(item, "/A")
            if isinstance(action, DictionaryObject) and resolved(action, "/S") != "/GoTo":
                del item["/A"]
            if "/S" in item and "/Next" in item:  # an action's chain; outline items' /Next is a sibling
                del item["/Next"]
            if resolved(item, "/S") in ACTIVE_ACTIONS:  # an action left anywhere: without its type it does nothing
                del item["/S"]
            stack.extend(dict.values(item))
        elif isinstance(item, ArrayObject):
            stack.extend(item)
