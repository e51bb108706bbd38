"""The programme's eligibility rules, judged at the call's deadline. Pure functions."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

CEFR = ("A1", "A2", "B1", "B2", "C1", "C2")


@dataclass(frozen=True)
class Problem:
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def months_between(earlier: date, later: date) -> float:
    return (later.year - earlier.year) * 12 + (later.month - earlier.month) + (later.day - earlier.day) / 31


# a student in one of these degrees has completed a bachelor's first, which takes at least this many years
AFTER_BACHELOR = frozenset({"master", "doctorate"})
BACHELOR_YEARS = 3


def years_completed(*, degree_level: str | None, year_of_study: int) -> int:
    """Years of university completed by a student in `year_of_study` of their current degree.

    The form asks for the year of the current degree, so a master's student in their second year, who enters 2,
    has completed a bachelor's and one year of the master's; any other degree counts as a bachelor's.
    """
    earlier = BACHELOR_YEARS if degree_level in AFTER_BACHELOR else 0
    return earlier + year_of_study - 1


def assess(*, applicant: dict, rules: dict, deadline: date) -> list[Problem]:
    """Every rule the applicant does not meet; an empty list means eligible."""
    problems = []
    age = age_on(applicant["date_of_birth"], deadline)
    if age < rules["min_age"]:
        problems.append(Problem("too_young", f"Applicants must be at least {rules['min_age']} years old "
                                             f"on {deadline.isoformat()}."))
    if applicant["nationality"] not in rules["nationalities"]:
        problems.append(Problem("nationality_not_eligible",
                                "Applicants must be nationals of a NATO member country."))
    education = applicant["education"]
    if education["status"] == "enrolled":
        completed = years_completed(degree_level=education.get("degree_level"),
                                    year_of_study=education["year_of_study"])
        if completed < rules["min_years_completed"]:
            problems.append(Problem("insufficient_study", f"Students must have completed at least "
                                                          f"{rules['min_years_completed']} years of study."))
    else:
        graduated = education["graduation_date"]
        if graduated > deadline:
            problems.append(Problem("degree_not_obtained", "The degree must be obtained by the deadline."))
        elif months_between(graduated, deadline) >= rules["max_months_since_graduation"]:
            problems.append(Problem("degree_too_old", f"The degree must have been obtained less than "
                                                      f"{rules['max_months_since_graduation']} months "
                                                      f"before the deadline."))
    minimum = CEFR.index(rules["min_language_level"])
    levels = applicant["languages"]
    if not any(CEFR.index(levels[lang]) >= minimum for lang in ("en", "fr") if lang in levels):
        problems.append(Problem("language_level_insufficient",
                                f"English or French at level {rules['min_language_level']} or higher is required."))
    return problems
