"""Workers' use cases: check an application, apply released decisions, sweep stuck work.

Tasks take references, reload state under a row lock and are safe to run twice.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import selectinload

from services.intake.applications.checks import completeness_problems, duplicate_problems, eligibility_problems
from services.intake.applications.models import Application
from services.intake.applications.service import CHECK_QUEUE, RENDER_QUEUE, request_check, request_render
from services.intake.applications.status import IllegalTransition, change_status
from services.intake.db import DEAD_LETTERS, INBOX, OUTBOX, db
from services.intake.programme.models import Call
from shared.bus import consume, publish_event
from shared.bus.consumer import event_consumer
from shared.db import utcnow
from shared.documents import DocumentStore
from shared.events import make_event

log = logging.getLogger(__name__)
STUCK_AFTER = timedelta(minutes=10)
# longer than a check, or a render up to its hard time limit (120 s), takes once started
LOST_AFTER = {CHECK_QUEUE: timedelta(seconds=90), RENDER_QUEUE: timedelta(seconds=150)}


def _patience(celery, session, queue: str) -> timedelta:
    """How long work of `queue` may take before it is asked for again: short when none is waiting."""
    if session.scalar(select(OUTBOX.c.id).where(OUTBOX.c.sent_at.is_(None), OUTBOX.c.queue == queue).limit(1)):
        return STUCK_AFTER
    with celery.connection_for_read() as connection:
        waiting = connection.default_channel.queue_declare(queue=queue, passive=False).message_count
    return STUCK_AFTER if waiting else LOST_AFTER[queue]


def load_locked(session, reference: str) -> Application | None:
    return session.scalars(select(Application).where(Application.reference == reference)
                           .options(selectinload(Application.documents), selectinload(Application.history))
                           .with_for_update()).first()


# a database cut mid-check (restart, failover) must not leave the application submitted until the sweeper
@shared_task(name="intake.check_application", autoretry_for=(OperationalError,), retry_backoff=True,
             retry_jitter=True, max_retries=10)
def check_application(reference: str) -> str | None:
    """submitted → checking → under_review | incomplete | ineligible, then ask for the dossier."""
    session = db.session
    application = load_locked(session, reference)
    if application is None or application.status not in ("submitted", "checking"):
        session.rollback()
        return None
    if application.status == "submitted":
        change_status(session=session, application=application, new="checking", actor="worker")
        session.commit()
    call = session.get_one(Call, application.call_id)
    store = DocumentStore.of(current_app.config["SETTINGS"])
    ineligible = eligibility_problems(application=application, call=call)
    missing = completeness_problems(application=application, call=call, store=store)
    session.rollback()  # release the read snapshot before taking the lock again

    application = load_locked(session, reference)
    if application is None or application.status != "checking":
        session.rollback()
        return None
    problems = [p.as_dict() for p in ineligible + missing]
    application.eligible, application.complete = not ineligible, not missing
    application.problems, application.checked_at = problems, utcnow()
    # the duplicate flag goes to staff only: the applicant's status page lists `application.problems`
    flags = [p.as_dict() for p in duplicate_problems(session=session, application=application)]
    publish_event(session=session, outbox=OUTBOX, event=make_event("application.checked", {
        "reference": reference, "eligible": application.eligible, "complete": application.complete,
        "problems": problems + flags}, producer="intake"))
    if ineligible:
        outcome = "ineligible"
    elif missing:
        outcome = "incomplete"
    else:
        outcome = "under_review"
    change_status(session=session, application=application, new=outcome, actor="worker",
                  reason=", ".join(p["code"] for p in problems) or None)
    request_render(session=session, application=application)
    session.commit()
    log.info("application checked", extra={"reference": reference, "outcome": outcome})
    return outcome


def apply_released_decision(*, session, event: dict) -> None:
    data = event["data"]
    application = load_locked(session, data["reference"])
    if application is None:
        log.warning("decision for an unknown application", extra={"reference": data["reference"]})
        return
    try:
        change_status(session=session, application=application, new=data["decision"],
                      actor=f"review:{data['released_by']}", reason=data["reason_code"])
    except IllegalTransition as exc:
        # e.g. withdrawn before the release: recorded as handled, the status stands
        log.warning("released decision not applied", extra={"reference": data["reference"], "status": exc.old})


@event_consumer(name="intake.handle_event", service="intake", database=db, dead_letters=DEAD_LETTERS)
def handle_event(envelope: dict) -> bool:
    """Events intake consumes: released decisions (retried, then dead-lettered: never dropped)."""
    return consume(session=db.session, inbox=INBOX, envelope=envelope,
                   handlers={"decision.released": apply_released_decision})


@shared_task(bind=True, name="intake.sweep_stuck")
def sweep_stuck(self) -> int:
    """Ask again for checks and dossiers that should have finished long ago (a lost message).

    A message can be lost on its way to a worker when the broker goes away at that moment. While work of its
    kind waits (in the outbox or the queue), an application may just be in line, and only one untouched for
    STUCK_AFTER is asked for again; when nothing waits, one untouched for LOST_AFTER (minutes) was lost.
    """
    session = db.session
    stuck = session.scalars(select(Application).where(
        Application.status.in_(["submitted", "checking"]),
        Application.updated_at < utcnow() - _patience(self.app, session, CHECK_QUEUE))).all()
    for application in stuck:
        request_check(session=session, application=application)
    unrendered = session.scalars(select(Application).where(
        Application.checked_at < utcnow() - _patience(self.app, session, RENDER_QUEUE),
        Application.dossier_key.is_(None), Application.status.in_(["under_review", "incomplete", "ineligible"]))).all()
    for application in unrendered:
        request_render(session=session, application=application)
    session.commit()
    if stuck or unrendered:
        log.info("swept stuck work", extra={"checks": len(stuck), "renders": len(unrendered)})
    return len(stuck) + len(unrendered)
