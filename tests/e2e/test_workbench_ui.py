"""The review workbench in a real browser: a reviewer scores from the queue, the coordinator reads the review
and proposes a decision, the programme office decides in bulk from the list, releases the department after
confirming and accepts the proposal."""
from __future__ import annotations

import dataclasses

import pytest

from services.review import create_app
from services.review.accounts.service import create_user
from services.review.db import db
from tests.conftest import migrated_database
from tests.e2e.browser import chromium, require_chromium, seed_under_review, serving, sign_in

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

ADMIN, REVIEWER, COORDINATOR = "office@example.org", "reviewer@example.org", "coordinator@example.org"
PASSWORD = "a long enough password"
REFERENCES = ("NIP27-W001", "NIP27-W002", "NIP27-W003")


@pytest.fixture
def review_server(settings):
    require_chromium()
    url = migrated_database("review", "_e2e_workbench")
    app = create_app(dataclasses.replace(settings, review_database_url=url, admin_email=ADMIN,
                                         admin_password=PASSWORD))
    with app.app_context():
        create_user(session=db.session, email=REVIEWER, password=PASSWORD, role="reviewer", departments=["it"])
        create_user(session=db.session, email=COORDINATOR, password=PASSWORD, role="coordinator",
                    departments=["it"])
        db.session.commit()
        for reference in REFERENCES:  # assigned to the one reviewer of "it" as they come under review
            seed_under_review(reference, departments=("it",))
    with serving(app) as base:
        yield base


def signed_in(browser, base: str, email: str):
    page = browser.new_page()
    sign_in(page, base, email, PASSWORD)
    return page


def test_score_read_decide_in_bulk_and_release(review_server, tmp_path):
    shots = tmp_path / "screenshots"
    errors: list[str] = []
    with chromium() as browser:
        # the reviewer lands on their queue and scores the oldest assignment from its page
        reviewer = signed_in(browser, review_server, REVIEWER)
        reviewer.on("pageerror", lambda exc: errors.append(str(exc)))
        expect(reviewer.get_by_role("heading", name="My queue")).to_be_visible()
        expect(reviewer.locator("#queue tbody tr")).to_have_count(3)
        reviewer.screenshot(path=shots / "1-reviewer-queue.png", full_page=True)
        reviewer.locator("#queue tbody tr").first.get_by_role("link").click()
        scored = reviewer.get_by_role("heading", level=1).inner_text().split(" ")[0]
        assert scored in REFERENCES
        form = reviewer.locator("#review-form")
        for fieldset, score in zip(form.locator("fieldset").all()[:4], ("5", "4", "4", "5")):
            fieldset.get_by_label(score, exact=True).check()
        form.get_by_label("Shortlisted").check()
        form.get_by_label("Comment").fill("Strong security background, <b>clear</b> motivation.")
        reviewer.screenshot(path=shots / "2-reviewer-scoring.png", full_page=True)
        form.get_by_role("button", name="Save my review").click()
        expect(reviewer.get_by_role("status")).to_be_visible()
        reviewer.goto(f"{review_server}/queue")
        expect(reviewer.locator("#queue tbody tr")).to_have_count(2)
        expect(reviewer.locator("#queue")).not_to_contain_text(scored)

        # the coordinator of the department reads the review, markup shown as text
        coordinator = signed_in(browser, review_server, COORDINATOR)
        coordinator.goto(f"{review_server}/applications/{scored}")
        review = coordinator.locator("article.review")
        expect(review).to_contain_text(REVIEWER)
        expect(review).to_contain_text("Shortlisted")
        expect(review).to_contain_text("<b>clear</b>")
        coordinator.screenshot(path=shots / "3-coordinator-reads.png", full_page=True)
        # ...and proposes a decision on the third, for the office to accept
        third = REFERENCES[-1] if scored != REFERENCES[-1] else REFERENCES[0]
        coordinator.goto(f"{review_server}/applications/{third}")
        proposal = coordinator.locator("#proposal-form")
        proposal.get_by_label("Reserve").check()
        proposal.get_by_label("Reason").select_option("limited_places")
        proposal.get_by_role("button", name="Propose").click()
        expect(coordinator.get_by_role("status")).to_contain_text("Proposal recorded")

        # the office ticks two applications of the list, records one decision, then releases the department
        admin = signed_in(browser, review_server, ADMIN)
        admin.on("pageerror", lambda exc: errors.append(str(exc)))
        admin.goto(f"{review_server}/applications?department=it&sort=-score")
        expect(admin.locator("nav.counts")).to_contain_text("Under review 3")
        rows = admin.locator("table.applications tbody tr")
        expect(rows.first).to_contain_text(scored)  # best score first
        expect(rows.first).to_contain_text("4.")
        admin.get_by_label(f"Select {scored}").check()
        other = next(r for r in REFERENCES if r not in (scored, third))
        admin.get_by_label(f"Select {other}").check()
        bulk = admin.locator("fieldset.bulk")
        bulk.get_by_label("Shortlisted").check()
        bulk.get_by_label("Reason").select_option("strong_profile")
        admin.screenshot(path=shots / "4-admin-bulk.png", full_page=True)
        bulk.get_by_role("button", name="Record the decision").click()
        expect(admin.get_by_role("status")).to_contain_text("Decision shortlisted recorded for 2 applications")
        expect(admin).to_have_url(f"{review_server}/applications?department=it&sort=-score")

        admin.get_by_role("link", name="Release the recorded decisions of this list").click()
        expect(admin.locator(".release-summary")).to_contain_text("2 candidates will be emailed")
        expect(admin.locator(".release-summary")).to_contain_text("2 in English")
        admin.screenshot(path=shots / "5-admin-confirms-release.png", full_page=True)
        admin.get_by_role("button", name="Yes, release 2 decisions").click()
        expect(admin.get_by_role("status")).to_contain_text("2 decisions released")
        admin.screenshot(path=shots / "6-admin-released.png", full_page=True)
        admin.goto(f"{review_server}/applications/{scored}")
        expect(admin.locator("#current-decision")).to_contain_text("Released")
        admin.goto(f"{review_server}/dashboard?department=it")
        expect(admin.locator(".reviews-done")).to_have_text("1")
        expect(admin.locator(".reviews-outstanding")).to_have_text("2")
        expect(admin.locator("svg.chart rect[height='200.0']")).to_have_count(1)  # the one score, 4.5-5
        admin.screenshot(path=shots / "7-admin-dashboard.png", full_page=True)

        # the coordinator's proposal waits in the list; one click records it
        admin.goto(f"{review_server}/applications?proposed=true")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(f"{third}")
        expect(rows.first).to_contain_text("proposed: Reserve")
        rows.first.get_by_role("link", name=third).click()
        expect(admin.locator("#proposal")).to_contain_text(f"Proposed by {COORDINATOR}")
        admin.get_by_role("button", name="Accept the proposal").click()
        expect(admin.get_by_role("status")).to_contain_text("Proposal accepted")
        expect(admin.locator("#current-decision")).to_contain_text("Recorded: reserve")
        admin.screenshot(path=shots / "8-admin-accepts-proposal.png", full_page=True)
    assert errors == []
    assert sorted(path.name for path in shots.iterdir()) == [
        "1-reviewer-queue.png", "2-reviewer-scoring.png", "3-coordinator-reads.png", "4-admin-bulk.png",
        "5-admin-confirms-release.png", "6-admin-released.png", "7-admin-dashboard.png",
        "8-admin-accepts-proposal.png"]
