"""The dossier in a real browser (Debian's chromium): the detail page's frame shows it in Chromium's PDF viewer
although the PDF is served sandboxed by its own Content-Security-Policy, and a dossier built from hostile
uploads opens without running anything."""
from __future__ import annotations

import dataclasses
import time

import pytest

from services.intake.dossier.render import Attachment, render_dossier
from services.review import create_app
from shared.documents import DocumentStore
from tests import hostile
from tests.conftest import migrated_database
from tests.e2e.browser import chromium, require_chromium, seed_under_review, serving, sign_in

playwright_api = pytest.importorskip("playwright.sync_api")

ADMIN, PASSWORD = "viewer-office@example.org", "a long enough password"
REFERENCE = "NIP27-E2E7"




@pytest.fixture
def review_server(settings):
    require_chromium()
    url = migrated_database("review", "_e2e_dossier")
    app = create_app(dataclasses.replace(settings, review_database_url=url, admin_email=ADMIN,
                                         admin_password=PASSWORD))
    context = {"call_name": "NIP 2027", "reference": REFERENCE, "name": "Ingrid Halvorsen",
               "submitted_at": "2026-11-29 10:00", "email": "ingrid@example.org", "date_of_birth": "2001-03-09",
               "age": 25, "nationality": "NO", "correspondence_language": "English", "problems": [],
               "departments": ["IT"], "session": "March", "education": {"institution": "University of Oslo"},
               "languages": {"en": "C2"}, "motivation": "Motivated.", "documents": []}
    rendered = render_dossier(context=context, attachments=[Attachment("Hostile", hostile.everything_hostile())],
                              reference=REFERENCE)
    key = f"dossiers/{REFERENCE.lower()}.pdf"
    DocumentStore(settings.documents_dir).put_at(key, rendered.pdf)
    seed_under_review(REFERENCE, dossier=(key, rendered.pages))
    with serving(app) as base:
        yield base


def test_dossier_frame_shows_the_sandboxed_pdf_in_chromiums_viewer(review_server, tmp_path):
    with chromium() as browser:
        page = browser.new_page()
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        sign_in(page, review_server, ADMIN, PASSWORD)
        playwright_api.expect(page.get_by_role("heading", name="Applications")).to_be_visible()

        page.goto(f"{review_server}/applications/{REFERENCE}")
        frame = page.locator("iframe.dossier")
        playwright_api.expect(frame).to_be_visible()
        frame.scroll_into_view_if_needed()  # Chromium starts the viewer of an off-screen frame lazily
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            urls = [frame.url for frame in page.frames]
            if any(u.startswith("chrome-extension://") for u in urls):
                break
            time.sleep(0.2)
        # the frame holds the PDF and Chromium's viewer runs in it; a blocked frame shows chrome-error://
        assert any(u.endswith(f"/applications/{REFERENCE}/dossier.pdf") for u in urls), urls
        assert any(u.startswith("chrome-extension://") for u in urls), urls
        assert not any(u.startswith("chrome-error://") for u in urls), urls
        time.sleep(1)
        frame.screenshot(path=str(tmp_path / "dossier-frame.png"))  # kept for a human look when it fails
        assert dialogs == []
