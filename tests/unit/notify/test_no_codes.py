"""Candidates read words, never codes: every email they can receive, in both languages, with realistic words in
it (intake's own sentences for every problem code), holds none of the pipeline's codes."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest
from flask import Flask
from flask_babel import force_locale

from services.intake import i18n, labels
from services.intake.applications.checks import POSSIBLE_DUPLICATE
from services.intake.applications.eligibility import assess
from services.intake.applications.status import TRANSITIONS
from services.intake.applications.words import CHECK_PROBLEMS, problem_sentence
from services.intake.programme.defaults import NIP_2027
from services.notify.deliveries.rendering import LANGUAGES, SAMPLES, render_email
from services.notify.deliveries.service import format_moment
from services.review.decisions.schemas import REASON_CODES
from shared.events import DECISIONS, ApplicationAccessRequested

CALL = SimpleNamespace(**NIP_2027, deadline=datetime(2027, 1, 31, 22, 59, tzinfo=timezone.utc))
RULES = NIP_2027["rules"]


def eligibility_codes() -> set[str]:
    """Every code the eligibility rules give, from the rules themselves: two applicants failing all of them."""
    base = {"date_of_birth": date(2015, 1, 1), "nationality": "XX", "languages": {"en": "A1"}}
    student = {**base, "education": {"status": "enrolled", "degree_level": "bachelor", "year_of_study": 1}}
    graduates = [{**base, "education": {"status": "graduated", "graduation_date": day}}
                 for day in (date(2028, 1, 1), date(2020, 1, 1))]
    return {p.code for applicant in (student, *graduates)
            for p in assess(applicant=applicant, rules=RULES, deadline=date(2027, 1, 31))}


PURPOSES = set(ApplicationAccessRequested().fields["purpose"].validate.choices)  # type: ignore[union-attr]
STATUSES = {status for status in TRANSITIONS if status} | set(labels.STATUSES) | set(DECISIONS)
PROBLEM_CODES = set(CHECK_PROBLEMS) | eligibility_codes() | {POSSIBLE_DUPLICATE}
DEPARTMENT_CODES = {d["code"] for d in NIP_2027["departments"]}
# a code that is also an everyday word of the language ("draft", "withdrawn", "other", "finance", "it") can be
# told apart from it only where the language has no such word: every code is looked for in French, and the
# snake_case ones (never English words) in English too
KNOWN_CODES = STATUSES | PROBLEM_CODES | set(REASON_CODES) | PURPOSES | DEPARTMENT_CODES
IDENTIFIERS = {code for code in KNOWN_CODES if "_" in code}
SHARED_WORDS = {"finance"}  # a department's code and the first word of its name in both languages


@pytest.fixture(scope="module")
def intake_words():
    """intake's Babel, as its app configures it, to draw the candidate's sentences from its catalogs."""
    app = Flask("services.intake")
    i18n.init_app(app)
    with app.app_context():
        yield


def sentences(language: str) -> list[str]:
    """What the candidate reads about every problem code the check can record, with the call's figures."""
    problems = [{"code": code, "message": message}
                for code in sorted(PROBLEM_CODES - {POSSIBLE_DUPLICATE})
                for message in ("Curriculum vitae is missing.", "Proof of studies or degree could not be found.")]
    with force_locale(language):
        return list(dict.fromkeys(problem_sentence(p, CALL) for p in problems))  # type: ignore[arg-type]


def contexts(language: str) -> dict[str, dict]:
    """Every candidate template with what its event would carry: words, departments, links and expiries."""
    expires_at = format_moment(datetime(2027, 1, 31, 22, 59, tzinfo=timezone.utc), language)
    departments = [d["name"][language] for d in NIP_2027["departments"][:3]]
    status = {"name": "Zoé Lefèvre", "reference": "NIP27-7QK4M2", "expires_at": expires_at,
              "link": f"https://apply.example.org/access/Zq3-secret_Xy?lang={language}",
              "reasons": sentences(language), "department_names": departments}
    access = {"name": "Zoé Lefèvre", "reference": "NIP27-7QK4M2", "expires_at": expires_at,
              "link": f"https://apply.example.org/access/Zq3-signed?lang={language}"}
    found = {}
    for template in SAMPLES:
        if template.startswith("access_"):
            found[template] = access
        elif template != "digest":  # staff's, not a candidate's
            found[template] = status
    for names in (departments[:1], []):  # one department named as such; an old event's general wording
        found[f"shortlisted with {len(names)}"] = {**status, "department_names": names}
    return found


def codes_in(text: str, codes: set[str]) -> list[str]:
    return sorted(code for code in codes if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text))


def test_the_known_codes_are_the_pipelines():
    assert {"insufficient_study", "language_level_insufficient", "missing_document", "document_empty",
            "too_young", "degree_too_old"} <= PROBLEM_CODES
    assert {"under_review", "shortlisted", "withdrawn"} <= STATUSES
    assert {"weak_motivation", "limited_places"} <= set(REASON_CODES)
    assert PURPOSES == {"status", "draft", "erasure", "duplicate"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_problem_code_has_a_sentence_in_both_languages(intake_words, language):
    for code in sorted(CHECK_PROBLEMS):
        with force_locale(language):
            sentence = problem_sentence({"code": code, "message": "Portfolio: something"}, CALL)  # type: ignore[arg-type]
        with force_locale("en"):
            english = problem_sentence({"code": code, "message": "Portfolio: something"}, CALL)  # type: ignore[arg-type]
        assert sentence and code not in sentence and "Portfolio" not in sentence, code
        assert (sentence != english) == (language == "fr"), f"{code}: {sentence!r} is not translated"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_candidate_email_says_a_code(intake_words, language):
    codes = (KNOWN_CODES - SHARED_WORDS) if language == "fr" else IDENTIFIERS
    reasons = sentences(language)
    assert len(reasons) >= len(PROBLEM_CODES) - 1
    checked = 0
    for name, context in contexts(language).items():
        template = name.split()[0]
        email = render_email(status=template, language=language, context=context)
        for part, text in (("subject", email.subject), ("text", email.text), ("html", email.html)):
            assert codes_in(text, codes) == [], f"{template}/{language}/{part}"
        if template in ("ineligible", "incomplete"):
            assert all(reason in email.text for reason in reasons)
        checked += 1
    assert checked == len(SAMPLES) - 1 + 2


def test_the_check_finds_a_code_that_slipped_in():
    email = render_email(status="ineligible", language="en",
                         context={**contexts("en")["ineligible"], "reasons": ["insufficient_study"]})
    assert codes_in(email.text, IDENTIFIERS) == ["insufficient_study"]
    assert codes_in("Motif : rejected.", KNOWN_CODES) == ["rejected"]
    assert codes_in("NIP27-7QK4M2 under-review", IDENTIFIERS | {"review"}) == []
