"""A reviewer's day in a real browser: sign in, find the application, record a decision."""
from __future__ import annotations

import dataclasses

import pytest

from services.review import create_app
from tests.conftest import migrated_database
from tests.e2e.browser import chromium, fill_sign_in, require_chromium, seed_under_review, serving

playwright_api = pytest.importorskip("playwright.sync_api")

ADMIN, PASSWORD = "office@example.org", "a long enough password"


@pytest.fixture
def review_server(settings):
    require_chromium()
    url = migrated_database("review", "_e2e")
    app = create_app(dataclasses.replace(settings, review_database_url=url, admin_email=ADMIN,
                                         admin_password=PASSWORD))
    seed_under_review("NIP27-E2E1", departments=("it", "polsci"))
    with serving(app) as base:
        yield base


def test_reviewer_signs_in_and_shortlists_an_application(review_server):
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{review_server}/applications")
        assert "/login" in page.url

        fill_sign_in(page, ADMIN, "not the password")
        playwright_api.expect(page.get_by_role("alert")).to_contain_text("Email or password is incorrect.")

        fill_sign_in(page, ADMIN, PASSWORD)
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
