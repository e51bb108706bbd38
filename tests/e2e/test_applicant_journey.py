"""An applicant's journey in French, in a real browser: a draft saved and resumed from the emailed link, a mistake
corrected, a DOCX CV, the status page, then "find my application" and its emailed link.

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
from tests.factories import MOTIVATION, make_docx, make_pdf

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
EMAIL = "ingrid.halvorsen@example.org"


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


def test_a_french_applicant_saves_a_draft_comes_back_applies_and_finds_the_application_again(journey):
    with chromium() as browser:
        page = browser.new_page(locale="fr-FR")
        page.goto(f"{journey.url}/apply?lang=fr")
        field(page, "given_name").fill("Ingrid")
        field(page, "family_name").fill("Halvorsen")
        field(page, "email").fill(EMAIL)
        page.get_by_role("button", name="Enregistrer comme brouillon").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Brouillon enregistré")
        expect(page.get_by_role("status")).to_contain_text(EMAIL)

        [draft_mail] = journey.mail()
        assert draft_mail["To"] == EMAIL and "brouillon" in draft_mail["Subject"]
        page.goto(journey.link_in(draft_mail))
        expect(field(page, "given_name")).to_have_value("Ingrid")
        expect(field(page, "email")).to_have_value(EMAIL)

        field(page, "date_of_birth").fill("2031-03-09")  # the mistake: a birth date in the future
        field(page, "nationality").fill("Norvège")
        field(page, "languages.en").select_option("C2")
        field(page, "education.institution").fill("Université d'Oslo")
        field(page, "education.degree_level").select_option("master")
        field(page, "education.field_of_study").fill("Informatique")
        field(page, "education.status").select_option("enrolled")
        field(page, "education.year_of_study").fill("4")
        field(page, "department1").select_option("it")
        field(page, "session").select_option("march")
        field(page, "motivation").fill(MOTIVATION)
        cv = {"name": "cv.docx", "mimeType": DOCX, "buffer": make_docx("Curriculum vitae d'Ingrid Halvorsen")}
        proof = {"name": "attestation.pdf", "mimeType": "application/pdf", "buffer": make_pdf("Attestation")}
        field(page, "cv").set_input_files(cv)
        field(page, "academic_proof").set_input_files(proof)
        page.locator("#consent").check()
        page.get_by_role("button", name="Envoyer ma candidature").click()

        expect(page.get_by_role("alert")).to_contain_text("Veuillez corriger")
        expect(field(page, "date_of_birth")).to_have_attribute("aria-invalid", "true")
        expect(field(page, "given_name")).to_have_value("Ingrid")  # what was typed is kept

        field(page, "date_of_birth").fill("2001-03-09")
        field(page, "cv").set_input_files(cv)
        field(page, "academic_proof").set_input_files(proof)
        page.locator("#consent").check()
        page.get_by_role("button", name="Envoyer ma candidature").click()

        expect(page.get_by_role("heading", level=1)).to_have_text("Suivi de candidature")
        reference = page.locator(".reference").inner_text()
        assert re.fullmatch(r"NIP\d\d-\w{4}-\w{4}", reference)
        expect(page.locator(".status")).to_have_text("reçue")

        # later, without the key: the way back from the status link in our emails
        page.goto(f"{journey.url}/status/{reference}?lang=fr")
        page.get_by_role("link", name="Clé perdue ?").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Retrouver ma candidature")
        page.get_by_label("Courriel").fill(EMAIL)
        page.get_by_role("button", name="M'envoyer un lien").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Consultez vos courriels")

        status_mail = next(m for m in journey.mail() if "/access/status/" in m.get_body(("plain",)).get_content())
        assert reference in status_mail["Subject"] and status_mail["To"] == EMAIL
        link = journey.link_in(status_mail)
        assert "token=" not in link
        page.goto(link)
        expect(page.get_by_role("heading", level=1)).to_have_text("Suivi de candidature")
        expect(page.locator(".reference")).to_have_text(reference)
        expect(page.locator(".status")).to_have_text("reçue")
