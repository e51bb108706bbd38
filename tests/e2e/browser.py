"""What the browser tests share: Debian's chromium under Playwright, an app served on a free port, the staff
sign-in, and an application seeded into review's read model through its own event handler."""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from datetime import date, timedelta

import pytest

from services.review.applications.tasks import handle_event
from shared.db import utcnow
from shared.events import make_event
from tests.servers import serving  # noqa: F401  (the browser tests import it from here)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def require_chromium() -> None:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")


@contextmanager
def chromium():
    """Debian's chromium driven by Playwright, closed when the block ends."""
    from playwright.sync_api import sync_playwright  # the browser tests import-or-skip Playwright first

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page, base: str, email: str, password: str) -> None:
    """Sign in on the staff login page at `base` (review's or notify's)."""
    page.goto(f"{base}/login")
    fill_sign_in(page, email, password)


def fill_sign_in(page, email: str, password: str) -> None:
    """Fill in and send the staff login form `page` shows."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def seed_under_review(reference: str, *, departments=("it",), dossier: tuple[str, int] | None = None) -> None:
    """An application under review (with its dossier `(key, pages)` when given), as intake's events make it."""
    submitted_at = utcnow() - timedelta(hours=1)
    handle_event(make_event("application.submitted", {
        "reference": reference, "departments": list(departments), "submitted_at": submitted_at,
        "applicant": {"given_name": "Ingrid", "family_name": "Halvorsen", "nationality": "NO",
                      "date_of_birth": date(2001, 3, 9), "session": "march",
                      "education": {"institution": "University of Oslo", "degree_level": "master",
                                    "field_of_study": "Informatics", "status": "enrolled", "year_of_study": 4},
                      "languages": {"en": "C2", "fr": "B2"}, "correspondence_language": "en"}},
        producer="intake"))
    handle_event(make_event("application.status_changed", {
        "reference": reference, "old": "checking", "new": "under_review", "reason": None,
        "email": "ingrid@example.org", "name": "Ingrid Halvorsen", "language": "en"}, producer="intake"))
    if dossier is not None:
        key, pages = dossier
        handle_event(make_event("dossier.rendered", {"reference": reference, "dossier_key": key, "pages": pages,
                                                     "sha256": "ab" * 32}, producer="intake"))
