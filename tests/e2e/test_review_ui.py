"""A reviewer's day in a real browser: sign in, find the application, record a decision."""
from __future__ import annotations

import dataclasses
import threading

import pytest
from werkzeug.serving import make_server

from services.review import create_app
from tests.conftest import migrated_database
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, seed_under_review

playwright_api = pytest.importorskip("playwright.sync_api")

ADMIN, PASSWORD = "office@example.org", "a long enough password"


@pytest.fixture
def review_server(settings):
    require_chromium()
    url = migrated_database("review", "_e2e")
    app = create_app(dataclasses.replace(settings, review_database_url=url, admin_email=ADMIN,
                                         admin_password=PASSWORD))
    seed_under_review("NIP27-E2E1", departments=("it", "polsci"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def test_reviewer_signs_in_and_shortlists_an_application(review_server):
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{review_server}/applications")
            assert "/login" in page.url

            page.get_by_label("Email").fill(ADMIN)
            page.get_by_label("Password").fill("not the password")
            page.get_by_role("button", name="Sign in").click()
            playwright_api.expect(page.get_by_role("alert")).to_contain_text("Email or password is incorrect.")

            page.get_by_label("Email").fill(ADMIN)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            playwright_api.expect(page.get_by_role("heading", name="Applications")).to_be_visible()
            row = page.get_by_role("row").filter(has_text="NIP27-E2E1")
            playwright_api.expect(row).to_contain_text("Ingrid Halvorsen")
            playwright_api.expect(row).to_contain_text("Under review")

            row.get_by_role("link", name="NIP27-E2E1").click()
            playwright_api.expect(page.get_by_role("heading", level=1)).to_contain_text("Ingrid Halvorsen")
            playwright_api.expect(page.locator("#current-decision")).to_have_text("No decision recorded.")

            # the page has other forms with a "Reason" (erasure): the decision form's own fields
            decision_form = page.locator("#decision-form")
            decision_form.get_by_label("Shortlisted").check()
            decision_form.get_by_label("Reason").select_option("strong_profile")
            decision_form.get_by_role("button", name="Record the decision").click()

            playwright_api.expect(page.get_by_role("status")).to_contain_text("Decision recorded: shortlisted")
            playwright_api.expect(page.locator("#current-decision")).to_contain_text("Recorded: shortlisted")
            playwright_api.expect(page.get_by_role("link", name="Release the decision…")).to_be_visible()
        finally:
            browser.close()
