"""The application status machine: every status change goes through `change_status`."""
from __future__ import annotations

from sqlalchemy.orm import Session

from services.intake.applications.models import Application, StatusChange
from services.intake.applications.words import candidate_words
from services.intake.db import OUTBOX
from services.intake.portal.links import link_data
from shared.bus import publish_event
from shared.events import make_event

TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({"draft", "submitted"}),
    "draft": frozenset({"submitted", "withdrawn"}),
    "submitted": frozenset({"checking", "withdrawn"}),
    "checking": frozenset({"under_review", "incomplete", "ineligible", "withdrawn"}),
    "incomplete": frozenset({"checking", "withdrawn"}),
    "ineligible": frozenset({"withdrawn"}),
    "under_review": frozenset({"shortlisted", "reserve", "rejected", "withdrawn"}),
    "shortlisted": frozenset(),
    "reserve": frozenset(),
    "rejected": frozenset(),
    "withdrawn": frozenset(),
}

# The candidate is told about these; `checking` is our own business.
CANDIDATE_VISIBLE = frozenset(
    {"submitted", "under_review", "incomplete", "ineligible", "shortlisted", "reserve", "rejected", "withdrawn"}
)


class IllegalTransition(Exception):
    def __init__(self, reference: str, old: str | None, new: str):
        super().__init__(f"{reference}: {old} -> {new} is not allowed")
        self.old, self.new = old, new


def can_change(old: str | None, new: str) -> bool:
    return new in TRANSITIONS.get(old, frozenset())


def change_status(*, session: Session, application: Application, new: str, actor: str,
                  reason: str | None = None) -> None:
    """Move `application` to `new`, record it, and tell subscribers when the candidate should know."""
    old = application.status
    if not can_change(old, new):
        raise IllegalTransition(application.reference, old, new)
    application.status = new
    application.history.append(StatusChange(old=old, new=new, reason=reason, actor=actor))
    if new in CANDIDATE_VISIBLE:
        language = application.correspondence_language
        data = {"reference": application.reference, "old": old, "new": new, "reason": reason,
                "email": application.email, "name": application.full_name, "language": language,
                "departments": list(application.departments or ()),
                # the email's words (reasons, departments), and its single-use link to the portal
                **candidate_words(session=session, application=application, new=new, reason=reason),
                **link_data(session=session, reference=application.reference, language=language)}
        publish_event(session=session, outbox=OUTBOX,
                      event=make_event("application.status_changed", data, producer="intake"))
