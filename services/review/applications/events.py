"""Event handlers that keep the applications read model up to date.

Events may arrive out of order and more than once (the inbox filters repeats): every handler
upserts, creating the row from what its event carries when an earlier event has not arrived yet.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.review.applications.models import Application, ApplicationDepartment
from services.review.reviews.service import assign_reviewers
from shared.db import utcnow

log = logging.getLogger(__name__)


def _row(session: Session, reference: str) -> Application:
    # Create-if-missing first, so two events of a new application handled at once (prefork
    # children) meet on the row lock instead of one failing on the unique reference.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(Application).values(reference=reference, problems=[], updated_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["reference"]))
    return session.scalars(
        select(Application).where(Application.reference == reference).with_for_update()
        .execution_options(populate_existing=True)).one()


def _apply_status(application: Application, status: str, occurred_at: datetime) -> bool:
    if application.status_at is not None and occurred_at < application.status_at:
        log.info("older status event ignored", extra={"reference": application.reference, "status": status})
        return False
    application.status, application.status_at = status, occurred_at
    return True


def on_submitted(*, session: Session, event: dict) -> None:
    data = event["data"]
    applicant = data["applicant"]
    application = _row(session, data["reference"])
    application.submitted_at = data["submitted_at"]
    application.given_name = applicant["given_name"]
    application.family_name = applicant["family_name"]
    application.name = f"{applicant['given_name']} {applicant['family_name']}".strip()
    application.nationality = applicant["nationality"]
    application.date_of_birth = applicant["date_of_birth"]
    application.session = applicant["session"]
    application.education = applicant["education"]
    application.languages = applicant["languages"]
    application.correspondence_language = applicant["correspondence_language"]
    if not application.departments:
        application.departments = [
            ApplicationDepartment(reference=data["reference"], department=code, rank=rank)
            for rank, code in enumerate(dict.fromkeys(data["departments"]), start=1)
        ]
    _apply_status(application, "submitted", event["occurred_at"])
    # the status change may have come first, before the departments were known
    assign_reviewers(session=session, application=application, correlation_id=event.get("correlation_id"))


def on_checked(*, session: Session, event: dict) -> None:
    data = event["data"]
    application = _row(session, data["reference"])
    if application.checked_at is not None and event["occurred_at"] < application.checked_at:
        return
    application.eligible = data["eligible"]
    application.complete = data["complete"]
    application.problems = [dict(p) for p in data["problems"]]
    application.checked_at = event["occurred_at"]


def on_dossier_rendered(*, session: Session, event: dict) -> None:
    data = event["data"]
    application = _row(session, data["reference"])
    # a render's announcement handled after a later render's (its first handling killed before it committed): the
    # later one is intake's truth. Intake makes the event under the application's row lock: later, committed later
    if application.dossier_rendered_at is not None and event["occurred_at"] < application.dossier_rendered_at:
        log.info("older dossier event ignored", extra={"reference": application.reference})
        return
    application.dossier_rendered_at = event["occurred_at"]
    application.dossier_key = data["dossier_key"]
    application.dossier_pages = data["pages"]
    application.dossier_sha256 = data["sha256"]
    application.blind_dossier_key = data.get("blind_dossier_key")
    application.blind_dossier_pages = data.get("blind_pages")
    application.blind_dossier_sha256 = data.get("blind_sha256")
    application.dossier_flags = [dict(f) for f in data.get("flags") or []]


def on_status_changed(*, session: Session, event: dict) -> None:
    data = event["data"]
    application = _row(session, data["reference"])
    application.email = data["email"]
    application.name = application.name or data["name"]
    application.correspondence_language = application.correspondence_language or data["language"]
    if _apply_status(application, data["new"], event["occurred_at"]):
        assign_reviewers(session=session, application=application, correlation_id=event.get("correlation_id"))


HANDLERS = {
    "application.submitted": on_submitted,
    "application.checked": on_checked,
    "dossier.rendered": on_dossier_rendered,
    "application.status_changed": on_status_changed,
}
