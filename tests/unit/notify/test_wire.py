"""What goes in SMTP's DATA: notify's own serialisation writes exactly what smtplib's send_message would, and every
part reads back as it was written, whatever the text."""
import io
from email import policy
from email.generator import BytesGenerator
from email.parser import BytesParser

from hypothesis import given, settings, strategies as st

from services.notify.deliveries.smtp import build_message, wire_bytes

# subjects and bodies as templates write them, with a candidate's name in any script: one line of any text for
# a subject, anything for a body; display names as operators set them (SMTP_FROM, SMTP_REPLY_TO)
# (rendering.render_email folds a subject's white space into single spaces: a header cannot carry more)
text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=200).map(
    lambda subject: " ".join(subject.split()))
body = st.text(st.characters(blacklist_categories=("Cs",)), max_size=2000)
name = st.text(st.characters(whitelist_categories=("L", "N", "Zs"), whitelist_characters="-'—&"), max_size=60)


def message(subject, name, text_body, html_body, reply_name=None):
    return build_message(sender=f"{name} <internships@example.org>", recipient="zoe@example.org",
                         subject=subject, text=text_body, html=html_body, event_id="3f0c3c9e-1111", reference="NIP27-X",
                         reply_to=f"{reply_name} <office@example.org>" if reply_name is not None else None)


def as_smtplib_writes_it(message) -> bytes:
    """smtplib's send_message: compat32 flattening with CRLF line ends."""
    out = io.BytesIO()
    BytesGenerator(out).flatten(message, linesep="\r\n")
    return out.getvalue()


@settings(max_examples=300, deadline=None)
@given(subject=text, name=name, text_body=body, html_body=body, reply_name=st.none() | name)
def test_the_bytes_are_smtplibs_own(subject, name, text_body, html_body, reply_name):
    built = message(subject, name, text_body, html_body, reply_name)  # once: its Date header is the clock's
    assert wire_bytes(built) == as_smtplib_writes_it(built)


@settings(max_examples=300, deadline=None)
@given(subject=text, text_body=body, html_body=body)
def test_every_part_reads_back_as_written_even_text_that_looks_like_the_boundary(subject, text_body, html_body):
    text_body = f"--=_notify_part\n{text_body}\n=_notify_part--"
    raw = wire_bytes(message(subject, "NIP", text_body, html_body))
    assert raw.isascii() and all(len(line) <= 998 for line in raw.split(b"\r\n"))
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    plain, html = (part.get_content() for part in parsed.iter_parts())
    # quoted-printable carries line ends as the reader's own: compare the text line by line
    assert plain.splitlines() == text_body.splitlines() and html.splitlines() == html_body.splitlines()
    assert (parsed["Subject"] or "") == subject
