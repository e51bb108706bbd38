"""Words, not codes: the portal never shows a status, problem or reason code, whatever the status, in either
language."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from services.intake import labels
from services.intake.applications.models import Application, StatusChange
from services.intake.applications.status import TRANSITIONS
from services.intake.applications.words import CHECK_PROBLEMS
from services.intake.db import db
from services.review.decisions.schemas import REASON_CODES
from tests.factories import multipart, open_portal

PROBLEM_CODES = sorted(set(CHECK_PROBLEMS) | set(labels.PROBLEMS))
CODES = sorted(set(TRANSITIONS) - {None} | set(PROBLEM_CODES) | set(REASON_CODES))


def visible_text(page: str) -> str:
    """What a person reads: the body without tags, attributes or scripts."""
    body = page.split("<main", 1)[1]
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def codes_in(text: str, *, language: str) -> list[str]:
    # in English a plain-word code (shortlisted, withdrawn, incomplete) is also the word a person reads
    candidates = CODES if language == "fr" else [code for code in CODES if "_" in code]
    return [code for code in candidates if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text)]


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("status", sorted(set(TRANSITIONS) - {None, "draft"}))
def test_the_portal_says_words_for_every_status_and_problem(client, pdf, proof, status, language):
    body = client.post("/api/v1/applications", data=multipart(cv=pdf, academic_proof=proof),
                       content_type="multipart/form-data").get_json()
    application = db.session.scalars(select(Application).where(Application.reference == body["reference"])).one()
    application.status = status
    application.problems = [{"code": code, "message": f"Curriculum vitae: {code}"} for code in PROBLEM_CODES]
    # a reviewer's reason code in the history is internal: never shown either
    application.history.append(StatusChange(old="under_review", new=status, reason=", ".join(REASON_CODES),
                                            actor="review:admin@example.org"))
    db.session.commit()
    page = open_portal(client, application.reference, language=language)
    assert page.status_code == 200
    text = visible_text(page.get_data(as_text=True))
    assert codes_in(text, language=language) == []
    assert "admin@example.org" not in text
