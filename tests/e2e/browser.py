"""What the browser tests share: Debian's chromium for Playwright, and an application seeded into review's
read model through its own event handler."""
from __future__ import annotations

import os
import shutil
from datetime import date, timedelta

import pytest

from services.review.applications.tasks import handle_event
from shared.db import utcnow
from shared.events import make_event

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def require_chromium() -> None:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")


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
