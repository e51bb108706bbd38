"""The check of a submitted application: eligibility and completeness, with reason codes."""
from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.intake.applications.eligibility import Problem, assess
from services.intake.applications.models import Application
from services.intake.documents.inspect import DocumentRejected, inspect_document, still_acceptable
from services.intake.programme.models import Call
from shared.documents import DocumentStore, DocumentTampered

PROGRAMME_TZ = ZoneInfo("Europe/Brussels")
# a flag for staff in `application.checked`, never a refusal nor a reason to change the status
POSSIBLE_DUPLICATE = "possible_duplicate"


def completeness_problems(*, application: Application, call: Call, store: DocumentStore) -> list[Problem]:
    """Required documents present in the store and still acceptable."""
    problems = []
    for rule in call.documents:
        document = application.document(rule["kind"])
        if document is None:
            if rule["required"]:
                problems.append(Problem("missing_document", f"{rule['label']} is missing."))
            continue
        if not store.exists(document.key):
            problems.append(Problem("document_unavailable", f"{rule['label']} could not be found; upload it again."))
            continue
        try:
            data = store.read(document.key)
        except DocumentTampered:  # altered, or a file without encryption put in its place: never judged
            problems.append(Problem("document_unavailable", f"{rule['label']} could not be found; upload it again."))
            continue
        if still_acceptable(data=data, sha256=document.sha256, media_type=document.media_type, size=document.size,
                            pages=document.pages, inspected_by=document.inspected_by, rule=rule):
            continue  # judged on arrival by this inspector: the same bytes get the same verdict
        try:
            inspect_document(data, rule=rule)
        except DocumentRejected as rejected:
            problems.append(Problem(rejected.code, rejected.message))
    return problems


def eligibility_problems(*, application: Application, call: Call) -> list[Problem]:
    education = dict(application.education)
    if education.get("graduation_date"):
        education["graduation_date"] = date.fromisoformat(education["graduation_date"])
    applicant = {"date_of_birth": application.date_of_birth, "nationality": application.nationality,
                 "education": education, "languages": application.languages}
    deadline = call.deadline.astimezone(PROGRAMME_TZ).date()
    return assess(applicant=applicant, rules=call.rules, deadline=deadline)


def duplicate_problems(*, session: Session, application: Application) -> list[Problem]:
    """Another active application of the call from the same person (same email, or name and date of birth).

    Submission refuses these, but two submissions at the same moment both pass (only the email has a unique
    index), so the check looks again once the application is in.
    """
    others = session.scalars(select(Application.reference).where(
        Application.call_id == application.call_id, Application.id != application.id,
        Application.status != "withdrawn",
        or_(Application.email_normalized == application.email_normalized,
            (Application.name_key == application.name_key)
            & (Application.date_of_birth == application.date_of_birth)))
        .order_by(Application.reference).limit(5)).all()
    if not others:
        return []
    return [Problem(POSSIBLE_DUPLICATE, f"Possibly the same person as {', '.join(others)}: same email, "
                                        f"or same name and date of birth.")]
