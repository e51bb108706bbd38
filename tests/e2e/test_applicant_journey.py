"""Issue 19's acceptance journey, walked in a real browser as a candidate would, in English and in French.

Before you start, the form sent with one mistake (the motivation too short: the right error named, the files and
the consent kept), a draft saved and resumed from its emailed link, the submission, the confirmation email's link
opening the portal (at an address that holds no secret), withdrawal from the portal, and the used link refused
with the offer of a fresh one, whose email opens the portal again. axe finds no serious or critical violation on
any page visited; every email is in the candidate's language and says things in words, never in codes.

Intake serves the pages; notify's own event handler turns intake's outbox rows into mail sent to a real SMTP
server (aiosmtpd); the links are read from the caught mail. The relay's hop (outbox -> Celery -> notify) is the
one step done by the test itself.
"""
from __future__ import annotations

import dataclasses
import email
import json
import re
import threading
from email import policy
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from services.intake import create_app as create_intake
from services.intake.db import OUTBOX, db as intake_db
from services.intake.programme.service import seed_call
from services.notify import create_app as create_notify
from services.notify.deliveries.tasks import handle_event
from services.notify.mailcatcher import MailCatcher, free_port
from tests.conftest import migrated_database
from tests.e2e.browser import chromium, require_chromium
from tests.e2e.test_intake_a11y import assert_accessible
from tests.factories import MOTIVATION, make_pdf

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

# What the candidate reads, in each language (the French as services/intake/translations/fr has it). Where a
# page's words are still being translated, the steps find their way by addresses, ids and roles instead.
WORDS = {
    "en": {
        "locale": "en-GB", "start": "Before you start", "start_now": "Start now", "nationality": "Norway",
        "error_title": "Error:", "correct": "Please correct the highlighted fields.", "kept": "Kept: {}",
        "save_draft": "Save as a draft", "draft_saved": "Draft saved", "submit": "Submit my application",
        "received": "Application received", "received_status": "received", "withdraw": "Withdraw my application",
        "confirm_withdraw": "Yes, withdraw my application", "withdrawn_heading": "Application withdrawn",
        "withdrawn_status": "withdrawn", "refused": "This link cannot be used", "fresh": "Email me a fresh link",
        "check_email": "Check your email", "open_application": "Open your application",
    },
    "fr": {
        "locale": "fr-FR", "start": "Avant de commencer", "start_now": "Commencer", "nationality": "Norvège",
        "error_title": "Erreur :", "correct": "Veuillez corriger les champs signalés.", "kept": "Conservé : {}",
        "save_draft": "Enregistrer comme brouillon", "draft_saved": "Brouillon enregistré",
        "submit": "Envoyer ma candidature", "received": "Candidature reçue", "received_status": "reçue",
        "withdraw": "Retirer ma candidature", "confirm_withdraw": "Oui, retirer ma candidature",
        "withdrawn_heading": "Candidature retirée", "withdrawn_status": "retirée",
        "refused": "Ce lien ne peut pas être utilisé", "fresh": "M'envoyer un nouveau lien",
        "check_email": "Consultez vos courriels", "open_application": "Ouvrir votre candidature",
    },
}
# The codes a candidate must never read: statuses, reasons and problems as the services name them. Those with an
# underscore are caught in any language by SNAKE_CASE; the one-word ones are English words, read in French only.
CODE_WORDS = ("submitted", "checking", "under_review", "incomplete", "ineligible", "shortlisted", "reserve",
              "rejected", "withdrawn", "draft", "insufficient_study", "language_level_insufficient")
SNAKE_CASE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
# a few words of each language that any sentence of a letter is likely to hold
FUNCTION_WORDS = {"en": {"the", "your", "you", "and", "is", "we", "of", "to", "has", "been", "with", "this"},
                  "fr": {"le", "la", "les", "de", "des", "votre", "vous", "et", "est", "nous", "a", "été", "ce"}}
REFERENCE = re.compile(r"NIP\d\d-\w{4}-\w{4}")


class Journey:
    """Intake on a real port, notify's handler and a real SMTP server; `mail()` relays and reads what arrived."""

    def __init__(self, settings, tmp_path):
        port, smtp_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.mail_dir = tmp_path / "caught"
        common = dict(intake_url=self.url, smtp_host="127.0.0.1", smtp_port=smtp_port)
        self.intake = create_intake(dataclasses.replace(
            settings, intake_database_url=migrated_database("intake", "_journey"), **common))
        self.notify = create_notify(dataclasses.replace(
            settings, notify_database_url=migrated_database("notify", "_journey"), **common))
        with self.intake.app_context():
            seed_call(session=intake_db.session, deadline=settings.call_deadline)
            intake_db.session.commit()
        self.server = make_server("127.0.0.1", port, self.intake, threaded=True)
        self.catcher = MailCatcher(self.mail_dir, port=smtp_port)
        self.relayed: set[int] = set()
        self.read: set[Path] = set()

    def __enter__(self) -> "Journey":
        self.catcher.start()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.catcher.stop()

    def mail(self) -> list[email.message.EmailMessage]:
        with self.intake.app_context():
            rows = intake_db.session.execute(select(OUTBOX.c.id, OUTBOX.c.body)
                                             .where(OUTBOX.c.task == "notify.handle_event")
                                             .order_by(OUTBOX.c.id)).all()
            intake_db.session.remove()
        with self.notify.app_context():
            for row in rows:
                if row.id not in self.relayed:
                    handle_event.run(*json.loads(row.body))
                    self.relayed.add(row.id)
        return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in self.catcher.messages()]

    def new_mail(self) -> email.message.EmailMessage:
        """The one email that arrived since the last look (relaying what intake queued meanwhile)."""
        self.mail()
        new = [path for path in self.catcher.messages() if path not in self.read]
        assert len(new) == 1, f"expected one new email, got {len(new)}"
        self.read.update(new)
        return email.message_from_bytes(new[0].read_bytes(), policy=policy.default)

    def link_in(self, message) -> str:
        text = message.get_body(("plain",)).get_content()
        return re.search(re.escape(self.url) + r"/\S+", text).group(0)


@pytest.fixture
def journey(settings, tmp_path):
    require_chromium()
    with Journey(settings, tmp_path) as running:
        yield running


def field(page, name: str):
    return page.locator(f'[id="{name}"]')


def visit(page, url: str, lang: str, *, status: int = 200):
    """Open `url` as a click on an emailed link does; the page answers `status` in `lang`, and passes axe."""
    response = page.goto(url)
    assert response is not None and response.status == status, f"{url}: {response and response.status}"
    shown(page, lang)
    return response


def shown(page, lang: str) -> None:
    """The page is in `lang`, says things in words, and axe finds no serious or critical violation on it."""
    expect(page.locator("html")).to_have_attribute("lang", lang)
    assert_no_codes(page.locator("main").inner_text(), lang, page.url)
    assert_accessible(page)


def assert_no_codes(text: str, lang: str, where: str) -> None:
    """No code in `text`: nothing in snake_case, and in French no English code word either."""
    assert not SNAKE_CASE.findall(text), f"{where}: codes {SNAKE_CASE.findall(text)}"
    if lang == "fr":
        english = sorted({token for token in re.findall(r"\w+", text.casefold()) if token in CODE_WORDS})
        assert not english, f"{where}: {english}"


def words_of(message) -> str:
    """An email's subject and both bodies as the candidate reads them: tags and addresses left out."""
    html = re.sub(r"<[^>]+>", " ", message.get_body(("html",)).get_content())
    text = " ".join([message["Subject"], message.get_body(("plain",)).get_content(), html])
    return re.sub(r"https?://\S+", " ", text)


def assert_in_words(message, lang: str) -> None:
    """The email is written in `lang`, and no code reaches the candidate."""
    text = words_of(message)
    assert_no_codes(text, lang, message["Subject"])
    tokens = re.findall(r"\w+", text.casefold())
    other = next(code for code in FUNCTION_WORDS if code != lang)
    mine, theirs = (sum(token in FUNCTION_WORDS[code] for token in tokens) for code in (lang, other))
    assert mine > 3 * theirs, f"{message['Subject']} is not in {lang}: {mine} against {theirs} ({other})"


def fill_the_form(page, lang: str, email_address: str) -> None:
    """Every field, as a person fills them in: typed, chosen from the lists, the documents attached."""
    field(page, "given_name").fill("Ingrid")
    field(page, "family_name").fill("Halvorsen")
    field(page, "email").fill(email_address)
    field(page, "date_of_birth").fill("2001-03-09")
    field(page, "nationality").press_sequentially(WORDS[lang]["nationality"])
    field(page, "languages.en").select_option("C1")
    field(page, "languages.fr").select_option("B2")
    field(page, "education.institution").fill("Universitetet i Oslo")
    field(page, "education.degree_level").select_option("master")
    field(page, "education.field_of_study").fill("Informatics")
    field(page, "education.status").select_option("enrolled")
    field(page, "education.year_of_study").fill("2")  # a second-year master's student: eligible
    field(page, "department1").select_option("it")
    field(page, "department2").select_option("polsci")
    field(page, "session").select_option("september")
    expect(field(page, "correspondence_language")).to_have_value(lang)  # the page's language by default
    field(page, "motivation").fill("I would like to join NATO.")  # the one mistake: 6 words, 50 needed
    field(page, "cv").set_input_files({"name": "cv.pdf", "mimeType": "application/pdf",
                                       "buffer": make_pdf("Curriculum vitae of Ingrid Halvorsen")})
    field(page, "academic_proof").set_input_files({"name": "enrolment.pdf", "mimeType": "application/pdf",
                                                   "buffer": make_pdf("Certificate of enrolment")})
    field(page, "consent").check()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_candidate_applies_saves_a_draft_submits_withdraws_and_gets_a_fresh_link(journey, lang):
    words = WORDS[lang]
    email_address = f"ingrid.halvorsen.{lang}@example.org"
    with chromium() as browser:
        context = browser.new_context(locale=words["locale"])
        page = context.new_page()

        # 1. before you start: the call's rules, then "Start now"
        visit(page, f"{journey.url}/start?lang={lang}", lang)
        expect(page).to_have_title(re.compile("^" + re.escape(words["start"])))
        expect(page.get_by_role("heading", level=2).first).to_be_visible()
        page.get_by_role("link", name=words["start_now"]).click()
        page.wait_for_url(re.compile(r"/apply\?lang=" + lang + "$"))
        shown(page, lang)

        # 2. the form with one mistake: the motivation too short
        fill_the_form(page, lang, email_address)
        page.get_by_role("button", name=words["submit"]).click()
        expect(page).to_have_title(re.compile("^" + re.escape(words["error_title"])))
        summary = page.locator(".error-summary")
        expect(summary).to_be_focused()
        expect(summary).to_contain_text(words["correct"])
        # the one error named is the motivation's, and its link leads to it
        expect(summary.locator("a")).to_have_count(1)
        expect(summary.locator("a")).to_have_attribute("href", "#motivation")
        expect(field(page, "motivation")).to_have_attribute("aria-invalid", "true")
        expect(field(page, "motivation-error")).to_be_visible()
        # the files are kept (and not reported empty), the consent box is still ticked, what was typed is kept
        for kind, filename in (("cv", "cv.pdf"), ("academic_proof", "enrolment.pdf")):
            expect(field(page, f"{kind}-error")).to_have_count(0)
            document = page.locator(".field", has=field(page, kind))
            expect(document).to_contain_text(words["kept"].format(filename))
            expect(document.locator(f'input[type="hidden"][name="held.{kind}"]')).to_have_count(1)
            expect(field(page, kind)).not_to_have_attribute("required", "")
        expect(field(page, "consent")).to_be_checked()
        expect(field(page, "given_name")).to_have_value("Ingrid")
        expect(field(page, "nationality")).to_have_value(words["nationality"])
        expect(field(page, "education.degree_level")).to_have_value("master")
        shown(page, lang)

        # 3. saved as a draft, resumed from its email's link, the motivation fixed, submitted
        page.get_by_role("button", name=words["save_draft"]).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(words["draft_saved"])
        expect(page.get_by_role("status")).to_contain_text(email_address)
        shown(page, lang)

        draft_mail = journey.new_mail()
        assert draft_mail["To"] == email_address
        assert_in_words(draft_mail, lang)
        draft_link = journey.link_in(draft_mail)
        # a single-use link like every email's; the form it opens holds no secret in its address
        assert re.fullmatch(r"/access/[\w-]{43}", urlsplit(draft_link).path)
        assert parse_qs(urlsplit(draft_link).query)["lang"] == [lang]
        visit(page, draft_link, lang)
        assert urlsplit(page.url).path == "/apply" and "access" not in page.url and "draft" not in page.url
        expect(field(page, "given_name")).to_have_value("Ingrid")
        expect(field(page, "email")).to_have_value(email_address)
        expect(field(page, "motivation")).to_have_value("I would like to join NATO.")
        expect(field(page, "consent")).to_be_checked()
        for kind, filename in (("cv", "cv.pdf"), ("academic_proof", "enrolment.pdf")):
            expect(page.locator(".field", has=field(page, kind))).to_contain_text(filename)
            expect(field(page, kind)).not_to_have_attribute("required", "")
        field(page, "motivation").fill(MOTIVATION)
        page.get_by_role("button", name=words["submit"]).click()

        # 4. received, with the reference; the confirmation email's link opens the portal at a clean address
        page.wait_for_url(re.compile(r"/apply/received\?lang=" + lang + "$"))
        expect(page.get_by_role("heading", level=1)).to_have_text(words["received"])
        reference = page.locator(".reference").inner_text().strip()
        assert REFERENCE.fullmatch(reference), reference
        expect(page.get_by_role("status")).to_be_visible()
        shown(page, lang)

        confirmation = journey.new_mail()
        assert confirmation["To"] == email_address and reference in confirmation["Subject"]
        assert_in_words(confirmation, lang)
        link = journey.link_in(confirmation)
        assert re.fullmatch(re.escape(journey.url) + r"/access/[\w-]+\?lang=" + lang, link), link
        secret = urlsplit(link).path.rsplit("/", 1)[1]
        visit(page, link, lang)
        address = urlsplit(page.url)
        assert address.path == f"/status/{reference}", page.url
        assert parse_qs(address.query) == {"lang": [lang]} and secret not in page.url, page.url
        assert not re.search("access|token|key", page.url), page.url
        expect(page.locator(".reference")).to_have_text(reference)
        expect(page.locator(".status")).to_have_text(words["received_status"])
        expect(page.locator(".next")).not_to_be_empty()

        # 5. withdrawn from the portal, after a confirmation page
        withdraw_link = page.locator(f'a[href^="/status/{reference}/withdraw"]')
        expect(withdraw_link).to_have_text(words["withdraw"])
        withdraw_link.click()
        page.wait_for_url(re.compile(f"/status/{reference}/withdraw"))
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.locator("main")).to_contain_text(reference)
        shown(page, lang)
        page.get_by_role("button", name=words["confirm_withdraw"]).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(words["withdrawn_heading"])
        expect(page.get_by_role("status")).to_contain_text(reference)
        shown(page, lang)
        # withdrawal signs the browser out: the portal asks for a link again
        visit(page, f"{journey.url}/status/{reference}?lang={lang}", lang, status=401)
        expect(page.get_by_role("heading", level=1)).to_have_text(words["open_application"])

        withdrawn_mail = journey.new_mail()
        assert withdrawn_mail["To"] == email_address and reference in withdrawn_mail["Subject"]
        assert_in_words(withdrawn_mail, lang)

        # 6. the used link is refused, with a fresh one offered; its email opens the portal again
        visit(page, link, lang, status=410)
        expect(page.get_by_role("heading", level=1)).to_have_text(words["refused"])
        page.get_by_role("button", name=words["fresh"]).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(words["check_email"])
        shown(page, lang)

        fresh_mail = journey.new_mail()
        assert fresh_mail["To"] == email_address and reference in fresh_mail["Subject"]
        assert_in_words(fresh_mail, lang)
        fresh_link = journey.link_in(fresh_mail)
        assert re.fullmatch(re.escape(journey.url) + r"/access/[\w-]+\?lang=" + lang, fresh_link), fresh_link
        assert fresh_link != link
        visit(page, fresh_link, lang)
        assert urlsplit(page.url).path == f"/status/{reference}" and "/access/" not in page.url, page.url
        expect(page.locator(".reference")).to_have_text(reference)
        expect(page.locator(".status")).to_have_text(words["withdrawn_status"])
        expect(page.locator(f'a[href^="/status/{reference}/withdraw"]')).to_have_count(0)
        context.close()
