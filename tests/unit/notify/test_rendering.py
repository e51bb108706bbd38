"""Email templates: every candidate-visible status, in English and French."""
from email import policy
from email.parser import BytesParser

import pytest

from services.notify.deliveries.rendering import MissingTemplate, render_email
from services.notify.deliveries.smtp import build_message

STATUSES = ["submitted", "under_review", "incomplete", "ineligible", "shortlisted", "reserve", "rejected",
            "withdrawn"]
REFERENCE = "NIP27-7QK4M2"


LINK = "http://intake.test/access/single-use-secret?lang=en"


def context(**overrides):
    values = {"name": "Zoé Lefèvre", "reference": REFERENCE, "link": LINK, "expires_at": "31 January 2027, 23:59",
              "reasons": [], "department_names": []}
    return {**values, **overrides}


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("status", STATUSES)
def test_every_email_names_the_reference_in_subject_and_both_bodies(status, language):
    email = render_email(status=status, language=language, context=context())
    assert REFERENCE in email.subject
    assert REFERENCE in email.text
    assert REFERENCE in email.html
    assert "Zoé Lefèvre" in email.text
    assert LINK in email.text
    assert f'href="{LINK}"' in email.html
    assert "\n" not in email.subject
    assert "{{" not in email.text + email.html


@pytest.mark.parametrize("status", STATUSES)
def test_french_emails_are_written_in_french(status):
    french = render_email(status=status, language="fr", context=context())
    english = render_email(status=status, language="en", context=context())
    assert french.subject != english.subject
    assert "candidature" in french.subject
    assert "Bonjour Zoé Lefèvre," in french.text
    assert "Votre référence" in french.text
    assert 'lang="fr"' in french.html
    assert "Dear Zoé Lefèvre," in english.text


def test_incomplete_email_explains_what_is_missing():
    email = render_email(status="incomplete", language="en",
                         context=context(reasons=["Proof of studies or degree is missing."]))
    assert "What we found:\n- Proof of studies or degree is missing.\n" in email.text
    assert "<li>Proof of studies or degree is missing.</li>" in email.html


def test_no_reason_leaves_no_empty_reason_line():
    email = render_email(status="ineligible", language="fr", context=context())
    assert "ne remplit pas :" not in email.text
    assert "<ul>" not in email.html


@pytest.mark.parametrize(("language", "validity"), [
    ("en", "works until 31 January 2027, 23:59 (Brussels time)"),
    ("fr", "valable jusqu'au 31 janvier 2027, 23:59 (heure de Bruxelles)"),
])
def test_status_email_says_the_link_opens_once_until_when_in_brussels_time(language, validity):
    email = render_email(status="under_review", language=language,
                         context=context(expires_at=validity.split("jusqu'au " if language == "fr" else "until ")[1]
                                         .split(" (")[0]))
    for body in (email.text, email.html):
        assert validity in body
        assert ("once" if language == "en" else "une seule fois") in body
        assert ("send you a fresh one" if language == "en" else "en recevoir un nouveau") in body


def test_an_event_without_a_link_points_to_the_status_page_without_an_expiry():
    email = render_email(status="submitted", language="en",
                         context=context(link=f"http://intake.test/status/{REFERENCE}", expires_at=None))
    assert f"status page:\nhttp://intake.test/status/{REFERENCE}" in email.text
    assert "Brussels" not in email.text + email.html


@pytest.mark.parametrize(("names", "english", "french"), [
    (["Finance and business administration"],
     "The department you chose, Finance and business administration, will contact you",
     "Le département que vous avez choisi, Finance and business administration, prendra"),
    (["Finance", "Communications"],
     "in your order of preference: Finance, Communications. The department that selected you",
     "par ordre de préférence : Finance, Communications. Le département qui a retenu votre candidature"),
])
def test_shortlist_email_names_the_departments(names, english, french):
    for language, sentence in (("en", english), ("fr", french)):
        email = render_email(status="shortlisted", language=language, context=context(department_names=names))
        assert sentence in email.text and sentence in email.html
        assert "concerned" not in email.text and "concerné" not in email.text


def test_html_body_escapes_candidate_data_but_text_body_keeps_it_verbatim():
    email = render_email(status="submitted", language="en", context=context(name='<b>Tom & "Jerry"</b>'))
    assert "&lt;b&gt;Tom &amp;" in email.html
    assert "<b>Tom" not in email.html
    assert 'Dear <b>Tom & "Jerry"</b>,' in email.text


@pytest.mark.parametrize("status, language", [("checking", "en"), ("submitted", "de"), ("../submitted", "en")])
def test_missing_template_is_a_clear_error(status, language):
    with pytest.raises(MissingTemplate) as raised:
        render_email(status=status, language=language, context=context())
    message = str(raised.value)
    assert repr(status) in message and repr(language) in message
    assert "subject.txt" in message


def test_missing_placeholder_value_is_an_error_not_a_blank():
    with pytest.raises(Exception, match="link"):
        render_email(status="submitted", language="en",
                     context={"name": "A", "reference": REFERENCE, "expires_at": "31 January 2027, 23:59",
                              "reasons": [], "department_names": []})


def test_message_has_text_and_html_alternatives_and_a_message_id_from_the_event():
    email = render_email(status="shortlisted", language="fr", context=context())
    message = build_message(sender="NIP <internships@example.org>", recipient="zoe@example.org",
                            subject=email.subject, text=email.text, html=email.html,
                            event_id="3f0c3c9e-1111-4222-8333-444455556666", reference=REFERENCE)
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Message-ID"] == "<notify.3f0c3c9e-1111-4222-8333-444455556666@example.org>"
    assert parsed["Subject"] == email.subject
    assert parsed["To"] == "zoe@example.org"
    assert "présélectionnée" in parsed.get_body(("plain",)).get_content()
    assert "présélectionnée" in parsed.get_body(("html",)).get_content()


def test_names_and_subject_outside_ascii_reach_the_reader_intact():
    message = build_message(sender="Programme de stages — NIP <internships@example.org>",
                            recipient="zoe@example.org", subject="Votre candidature présélectionnée",
                            text="Bonjour Zoé", html="<p>Bonjour Zoé</p>", event_id="e1", reference=REFERENCE,
                            reply_to="Équipe NIP <office@example.org>")
    raw = message.as_bytes()
    assert raw.isascii()  # every header and body travels over a plain 7-bit SMTP session
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["From"] == "Programme de stages — NIP <internships@example.org>"
    assert parsed["Reply-To"] == "Équipe NIP <office@example.org>"
    assert parsed["Subject"] == "Votre candidature présélectionnée"
    assert parsed.get_body(("plain",)).get_content().strip() == "Bonjour Zoé"

