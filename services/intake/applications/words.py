"""What a candidate reads about a status change, in their language: the reasons in words, the departments' names.

Carried in `application.status_changed` (`reasons`, `department_names`) so that notify's emails say words, never
codes, with the same sentences the portal shows.
"""
from __future__ import annotations

from flask_babel import force_locale, lazy_gettext as _l
from sqlalchemy.orm import Session

from services.intake import labels
from services.intake.applications.models import Application
from services.intake.programme.models import Call

# the statuses intake's own check sets with the codes of what it found; any other reason is a reviewer's code,
# which is internal and never told to the candidate
CHECK_OUTCOMES = frozenset({"ineligible", "incomplete"})
# every code the check can record, in words: the status page's, and an inspector's refusal that the form's words
# (labels.DOCUMENT_REFUSALS) cover only with their general sentence
CHECK_PROBLEMS = {
    **labels.PROBLEMS,
    "document_archive_unsafe_names": _l("The file holds parts named outside the document itself; save it again "
                                        "as a plain Word document."),
}


def problem_sentence(problem: dict, call: Call | None = None) -> str:
    """The candidate's sentence for one of the check's problems, in the current locale: with the call's figures
    where there are any, else its code's general sentence, else the check's own words (never the code)."""
    detail = labels.problem_detail(problem, call) if call is not None else None
    if detail:
        return detail
    if problem.get("code") in CHECK_PROBLEMS:
        return str(CHECK_PROBLEMS[problem["code"]])
    return problem.get("message", "")


def department_names(call: Call, codes: list[str], language: str) -> list[str]:
    """The departments' names in `language` (English where the call has none), in the order of `codes`; a code
    the call no longer lists is left out rather than shown to the candidate."""
    names = {d["code"]: d["name"].get(language) or d["name"]["en"] for d in call.departments}
    return [names[code] for code in codes if code in names]


def reason_sentences(application: Application, call: Call, reason: str | None) -> list[str]:
    """One sentence per problem the check recorded behind `reason`, each said once, in the current locale.

    The application's `problems` hold what the last check found, with the documents' names; a code they no
    longer hold (an earlier check's, in the history) gets its general sentence.
    """
    sentences = []
    for code in dict.fromkeys(filter(None, (reason or "").split(", "))):
        found = [p for p in application.problems or () if p.get("code") == code]
        if found:
            sentences += [problem_sentence(p, call) for p in found]
        elif code in CHECK_PROBLEMS:
            sentences.append(str(CHECK_PROBLEMS[code]))
    return [s for s in dict.fromkeys(sentences) if s]


def candidate_words(*, session: Session, application: Application, new: str, reason: str | None) -> dict:
    """`reasons` (one sentence per reason code in `reason`) and `department_names`, in the candidate's language."""
    call = session.get_one(Call, application.call_id)
    language = application.correspondence_language
    reasons: list[str] = []
    if reason and new in CHECK_OUTCOMES:
        with force_locale(language):
            reasons = reason_sentences(application, call, reason)
    return {"reasons": reasons,
            "department_names": department_names(call, list(application.departments or ()), language)}
