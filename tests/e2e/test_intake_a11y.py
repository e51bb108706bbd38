"""The applicant's pages in a real browser: no serious or critical axe-core violations in either language, and
the whole form completed with the keyboard alone."""
from __future__ import annotations

import dataclasses
import re

import pytest

from services.intake import create_app
from services.intake.db import db
from services.intake.programme.service import seed_call
from tests.conftest import migrated_database
from tests.e2e.browser import chromium, require_chromium, serving
from tests.factories import MOTIVATION, make_pdf

playwright_api = pytest.importorskip("playwright.sync_api")
axe_api = pytest.importorskip("axe_playwright_python.sync_playwright")
expect = playwright_api.expect
PlaywrightTimeout = playwright_api.TimeoutError

SERIOUS = {"serious", "critical"}


@pytest.fixture
def intake_server(settings):
    require_chromium()
    app = create_app(dataclasses.replace(settings, intake_database_url=migrated_database("intake", "_a11y")))
    with app.app_context():
        seed_call(session=db.session, deadline=settings.call_deadline)
        db.session.commit()
    with serving(app) as base:
        yield base


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


def assert_accessible(page) -> None:
    violations = axe_api.Axe().run(page).response["violations"]
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations
               if v["impact"] in SERIOUS]
    assert not serious, f"{page.url}: {serious}"


def tab_to(page, element_id: str, limit: int = 10) -> None:
    """Press Tab until the control is focused, as a keyboard user moves through the form."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == element_id:
            return
    raise AssertionError(f"{element_id} cannot be reached with Tab")


def choose(page, element_id: str, option_text: str) -> None:
    """Pick an option of a focused <select> by typing its first letters, as keyboard users do."""
    tab_to(page, element_id)
    page.keyboard.type(option_text)
    selected = page.evaluate("document.activeElement.selectedOptions[0].textContent")
    assert selected.startswith(option_text), f"{element_id}: {selected}"


def attach(page, element_id: str, name: str, data: bytes) -> None:
    """Open the file chooser of a focused file input with the keyboard. Chromium now and then drops the key
    press that opens a chooser soon after another one closed: the user presses again, and so does this."""
    tab_to(page, element_id)
    for attempt in range(3):
        try:
            with page.expect_file_chooser(timeout=5000) as chooser:
                page.keyboard.press("Space")
            break
        except PlaywrightTimeout:
            assert page.evaluate("document.activeElement.id") == element_id
            if attempt == 2:
                raise
    chooser.value.set_files({"name": name, "mimeType": "application/pdf", "buffer": data})


def test_pages_pass_axe_in_both_languages(intake_server, browser):
    page = browser.new_page()
    for lang in ("en", "fr"):
        page.goto(f"{intake_server}/apply?lang={lang}")
        assert_accessible(page)
        page.goto(f"{intake_server}/status/NIP27-AAAA-BBBB?lang={lang}")
        assert_accessible(page)
    # a form sent back with its errors shown beside the fields
    page.goto(f"{intake_server}/apply?lang=fr")
    page.evaluate("document.querySelector('form').noValidate = true")
    page.get_by_role("button", name="Envoyer ma candidature").click()
    expect(page.get_by_role("alert")).to_contain_text("Veuillez corriger les champs signalés.")
    assert_accessible(page)


def test_before_you_start_passes_axe_in_both_languages(intake_server, browser):
    page = browser.new_page()
    for lang, heading, start in (("en", "Who can apply", "Start now"), ("fr", "Qui peut postuler", "Commencer")):
        page.goto(f"{intake_server}/start?lang={lang}")
        expect(page.get_by_role("heading", level=2, name=heading)).to_be_visible()
        assert_accessible(page)
    page.get_by_role("link", name="Commencer").click()
    expect(page).to_have_url(re.compile(r"/apply\?lang=fr$"))


def test_a_refused_form_says_error_in_its_title_and_focuses_the_summary(intake_server, browser):
    page = browser.new_page()
    for lang, title in (("en", "Error: Apply"), ("fr", "Erreur : Postuler")):
        page.goto(f"{intake_server}/apply?lang={lang}")
        page.evaluate("document.querySelector('form').noValidate = true")
        page.locator("#given_name").fill("Lena")
        page.locator("button[type=submit]:not([name])").click()
        expect(page).to_have_title(re.compile("^" + re.escape(title)))
        expect(page.locator(".error-summary")).to_be_focused()
        assert page.locator("#given_name").input_value() == "Lena"
        assert_accessible(page)


def test_the_form_counts_words_and_warns_early_about_eligibility(intake_server, browser):
    page = browser.new_page()
    page.goto(f"{intake_server}/apply?lang=en")
    page.locator("#motivation").fill("one two three")
    expect(page.locator("#motivation-count")).to_have_text("3 words; between 50 and 700")
    page.locator("#date_of_birth").fill("2015-06-01")
    expect(page.locator("#date_of_birth-warning")).to_contain_text("at least 21 years old")
    page.locator("#date_of_birth").fill("2001-06-01")
    expect(page.locator("#date_of_birth-warning")).to_have_text("")
    page.locator("#nationality").fill("Switzerland")
    expect(page.locator("#nationality-warning")).to_contain_text("NATO member country")
    page.locator("#nationality").fill("Norway")
    expect(page.locator("#nationality-warning")).to_have_text("")
    page.locator("#education\\.status").select_option("enrolled")
    page.locator("#education\\.degree_level").select_option("bachelor")
    page.locator("#education\\.year_of_study").fill("2")
    expect(page.locator("#education\\.year_of_study-warning")).to_contain_text("at least 2 years of study")
    page.locator("#education\\.degree_level").select_option("master")
    expect(page.locator("#education\\.year_of_study-warning")).to_have_text("")
    page.locator("#languages\\.en").select_option("B1")
    expect(page.locator("#languages-warning")).to_contain_text("level B2")
    page.locator("#languages\\.fr").select_option("C1")
    expect(page.locator("#languages-warning")).to_have_text("")
    french = browser.new_page()
    french.goto(f"{intake_server}/apply?lang=fr")
    french.locator("#motivation").fill("un")
    expect(french.locator("#motivation-count")).to_have_text("1 mot ; entre 50 et 700")
    assert_accessible(page)


def test_form_is_completed_with_the_keyboard_alone(intake_server, browser):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{intake_server}/apply?lang=en")
    tab_to(page, "given_name", limit=6)
    page.keyboard.type("Lena")
    for element_id, value in [("family_name", "Berg"), ("email", "lena@example.org"),
                              ("date_of_birth", "03022001"), ("nationality", "Norway")]:
        tab_to(page, element_id)
        page.keyboard.type(value)
    choose(page, "languages.en", "C1")
    tab_to(page, "education.institution")
    page.keyboard.type("University of Oslo")
    choose(page, "education.degree_level", "Master")
    tab_to(page, "education.field_of_study")
    page.keyboard.type("Economics")
    choose(page, "education.status", "I am still")
    tab_to(page, "education.year_of_study")
    page.keyboard.type("4")
    choose(page, "department1", "Finance")
    choose(page, "session", "March")
    tab_to(page, "motivation")
    page.keyboard.type(MOTIVATION)
    attach(page, "cv", "cv.pdf", make_pdf("Curriculum vitae"))
    attach(page, "academic_proof", "proof.pdf", make_pdf("Certificate of enrolment"))
    tab_to(page, "consent")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # the privacy notice's link
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Submit my application"
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text("Your application has been received.")
    assert re.search(r"NIP27-\w{4}-\w{4}", page.locator(".reference").text_content())
    assert_accessible(page)
    page.get_by_role("link", name="Français").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Candidature reçue")
    expect(page.get_by_role("status")).to_contain_text("Votre candidature a bien été reçue.")
    assert_accessible(page)
    context.close()
