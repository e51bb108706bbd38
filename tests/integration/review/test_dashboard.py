"""The department dashboard: counts by status, reviews done and outstanding, the score chart."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from services.review.applications.models import Application
from services.review.db import db

from .conftest import ADMIN, signed_in, submitted


def set_review_figures(app, reference: str, *, score: float | None, done: int, assigned: int) -> None:
    with app.app_context():
        db.session.execute(update(Application).where(Application.reference == reference)
                           .values(score=score, reviews_done=done, reviews_assigned=assigned))
        db.session.commit()


def test_counts_reviews_and_a_score_chart_per_department(app, admin, deliver, under_review):
    under_review("NIP27-0701", departments=["it"])
    under_review("NIP27-0702", departments=["it", "hr"])
    under_review("NIP27-0703", departments=["it"])
    deliver(submitted("NIP27-0704", departments=["it"]))
    under_review("NIP27-0705", departments=["hr"])
    set_review_figures(app, "NIP27-0701", score=4.6, done=2, assigned=2)
    set_review_figures(app, "NIP27-0702", score=4.9, done=1, assigned=2)
    set_review_figures(app, "NIP27-0703", score=2.2, done=1, assigned=3)
    set_review_figures(app, "NIP27-0705", score=1.0, done=2, assigned=2)
    response = signed_in(app, ADMIN).get("/dashboard?department=it")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r">Under review</a></th><td class=\"num\">3<", page)
    assert re.search(r">Submitted</a></th><td class=\"num\">1<", page)
    assert '<dd class="reviews-done">4</dd>' in page and '<dd class="reviews-outstanding">3</dd>' in page
    chart = re.search(r"<svg class=\"chart\".*?</svg>", page, re.S).group(0)
    bars = re.findall(r"<title>([0-9.]+)–([0-9.]+): (\d+)</title>", chart)
    assert len(bars) == 8
    assert {(low, count) for low, _, count in bars if count != "0"} == {("2.0", "1"), ("4.5", "2")}
    assert "<script" not in page


def test_a_coordinator_sees_only_their_departments_and_a_reviewer_none(app, admin, make_user, under_review):
    make_user("hr-coord@example.org", role="coordinator", departments=["hr"])
    make_user("rev@example.org", role="reviewer", departments=["hr"])
    under_review("NIP27-0711", departments=["it"])
    coordinator = signed_in(app, "hr-coord@example.org")
    page = coordinator.get("/dashboard").get_data(as_text=True)
    assert "Human resources and administration" in page and "Information technology" not in page
    assert coordinator.get("/dashboard?department=it").status_code == 404
    assert signed_in(app, "rev@example.org").get("/dashboard").status_code == 403


@pytest.mark.parametrize("department", ["nope", "<script>"])
def test_unknown_department_is_404(app, admin, department):
    assert signed_in(app, ADMIN).get("/dashboard", query_string={"department": department}).status_code == 404
