from datetime import date

import pytest

from services.intake.applications.eligibility import age_on, assess
from services.intake.programme.defaults import NIP_2027

DEADLINE = date(2027, 1, 31)
RULES = NIP_2027["rules"]


def applicant(**overrides):
    base = {"date_of_birth": date(2002, 5, 17), "nationality": "BE", "languages": {"en": "B2"},
            "education": {"status": "enrolled", "year_of_study": 3}}
    base.update(overrides)
    return base


def codes(**overrides):
    return {p.code for p in assess(applicant=applicant(**overrides), rules=RULES, deadline=DEADLINE)}


def test_eligible_candidate_has_no_problems():
    assert codes() == set()


@pytest.mark.parametrize("born, eligible", [
    (date(2006, 1, 31), True),   # 21 on the deadline itself
    (date(2006, 2, 1), False),   # 21 the day after
    (date(2000, 2, 29), True),
])
def test_age_is_judged_on_the_deadline(born, eligible):
    assert ("too_young" not in codes(date_of_birth=born)) is eligible


def test_age_counts_birthdays():
    assert age_on(date(2000, 2, 29), date(2021, 2, 28)) == 20
    assert age_on(date(2000, 2, 29), date(2021, 3, 1)) == 21


@pytest.mark.parametrize("country", NIP_2027["rules"]["nationalities"])
def test_every_nato_member_is_eligible(country):
    assert codes(nationality=country) == set()


@pytest.mark.parametrize("country", ["CH", "AT", "IE", "UA", "JP"])
def test_non_members_are_not(country):
    assert codes(nationality=country) == {"nationality_not_eligible"}


def test_students_need_two_completed_years():
    assert codes(education={"status": "enrolled", "year_of_study": 2}) == {"insufficient_study"}
    assert codes(education={"status": "enrolled", "year_of_study": 3}) == set()


@pytest.mark.parametrize("graduated, code", [
    (date(2026, 6, 30), None),
    (date(2026, 2, 1), None),              # just under 12 months
    (date(2026, 1, 31), "degree_too_old"),  # 12 months exactly
    (date(2027, 2, 15), "degree_not_obtained"),
])
def test_graduates_within_twelve_months(graduated, code):
    found = codes(education={"status": "graduated", "graduation_date": graduated})
    assert found == ({code} if code else set())


@pytest.mark.parametrize("languages, ok", [
    ({"en": "B2"}, True), ({"fr": "C2"}, True), ({"en": "B1", "fr": "B1"}, False), ({"en": "A2"}, False),
])
def test_english_or_french_at_b2(languages, ok):
    assert ("language_level_insufficient" not in codes(languages=languages)) is ok


@pytest.mark.parametrize("degree_level, year_of_study, eligible", [
    ("bachelor", 2, False),   # one year completed
    ("bachelor", 3, True),    # two years completed
    ("master", 1, True),      # a bachelor's behind them: three years completed
    ("master", 2, True),      # the second-year master's student who enters 2
    ("doctorate", 1, True),
    ("other", 2, False),      # counted as a bachelor's
    ("other", 3, True),
])
def test_the_year_of_study_counts_the_degree_level(degree_level, year_of_study, eligible):
    education = {"status": "enrolled", "degree_level": degree_level, "year_of_study": year_of_study}
    assert ("insufficient_study" not in codes(education=education)) is eligible
