"""Real documents for synthetic applications: PDFs rendered by WeasyPrint, DOCX as OOXML packages.

Rendering is the expensive part, so each (kind, size) base document is rendered once per process and then
personalised cheaply (PDF metadata, DOCX text): the load generator should load intake, not itself.
"""
from __future__ import annotations

import base64
import functools
import html
import io
import random
import threading
import zipfile

from PIL import Image
from pypdf import PdfReader, PdfWriter

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DEFAULT_SIZE = 60 * 1024

_render_lock = threading.Lock()  # WeasyPrint is not documented as thread-safe


@functools.lru_cache(maxsize=16)
def noise_png(size: int) -> bytes:
    """A PNG of about `size` bytes of noise: it does not compress, like a scanned page or a photo."""
    side = max(8, int((max(size, 256) / 3) ** 0.5))
    pixels = random.Random(size).randbytes(side * side * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


_PAGE = """<html><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 2cm }} body {{ font-family: sans-serif; font-size: 11pt }}
img {{ width: 4cm; height: 4cm; float: right }}</style></head>
<body><h1>{title}</h1><img src="data:image/png;base64,{image}">{paragraphs}</body></html>"""


@functools.lru_cache(maxsize=64)
def base_pdf(title: str, size: int) -> bytes:
    """A one- or two-page PDF of roughly `size` bytes (an embedded noise image carries the bulk)."""
    from weasyprint import HTML  # imported late: the CLI's --help should not pay for it

    image = base64.b64encode(noise_png(max(size - 12 * 1024, 1024))).decode()
    paragraphs = "".join(f"<p>{html.escape(title)}: section {i + 1}. Lorem ipsum dolor sit amet, consectetur "
                         f"adipiscing elit, sed do eiusmod tempor incididunt ut labore.</p>" for i in range(12))
    with _render_lock:
        return HTML(string=_PAGE.format(title=html.escape(title), image=image, paragraphs=paragraphs)).write_pdf()


def make_pdf(title: str, *, author: str, size: int = DEFAULT_SIZE) -> bytes:
    """`title` document of `author`, about `size` bytes; the metadata makes each file unique."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(base_pdf(title, size))))
    writer.add_metadata({"/Title": f"{title} — {author}", "/Author": author})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Default Extension="png" ContentType="image/png"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>
</Types>"""
_PACKAGE_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>
</Relationships>"""
_DOCUMENT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="media/photo.png"/>
</Relationships>"""
_CORE = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
 xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title><dc:creator>{author}</dc:creator></cp:coreProperties>"""
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def make_docx(title: str, *, author: str, lines: list[str], size: int = DEFAULT_SIZE) -> bytes:
    """A Word document (an OOXML package) with `lines` as paragraphs and a photo part carrying the bulk."""
    paragraphs = "".join(f"<w:p><w:r><w:t xml:space=\"preserve\">{html.escape(line)}</w:t></w:r></w:p>"
                         for line in [title, author, *lines])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _PACKAGE_RELS)
        archive.writestr("docProps/core.xml", _CORE.format(title=html.escape(title), author=html.escape(author)))
        archive.writestr("word/_rels/document.xml.rels", _DOCUMENT_RELS)
        archive.writestr("word/document.xml", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                                              f'<w:document xmlns:w="{_W}"><w:body>{paragraphs}</w:body></w:document>')
        archive.writestr("word/media/photo.png", noise_png(max(size - 2048, 1024)), zipfile.ZIP_STORED)
    return buffer.getvalue()
