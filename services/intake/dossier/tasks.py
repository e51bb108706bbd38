"""The dossier render task: safe to run twice, the dossier key is the application's own."""
from __future__ import annotations

import logging
import time

from celery import shared_task
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import selectinload

from services.intake.applications.checks import PROGRAMME_TZ
from services.intake.applications.eligibility import age_on
from services.intake.applications.models import Application
from services.intake.applications.tasks import load_locked
from services.intake.db import OUTBOX, db
from services.intake.dossier.render import Attachment, DossierRejected, render_dossier
from services.intake.programme.defaults import PDF
from services.intake.programme.models import Call
from shared.bus import publish_event
from shared.db import utcnow
from shared.documents import DocumentStore
from shared.events import make_event

log = logging.getLogger(__name__)


def dossier_context(application: Application, call: Call) -> dict:
    names = {d["code"]: d["name"]["en"] for d in call.departments}
    labels = {d["kind"]: d["label"] for d in call.documents}
    deadline = call.deadline.astimezone(PROGRAMME_TZ).date()
    return {
        "call_name": call.name, "reference": application.reference, "name": application.full_name,
        "submitted_at": application.submitted_at.astimezone(PROGRAMME_TZ).strftime("%Y-%m-%d %H:%M %Z"),
        "email": application.email, "date_of_birth": application.date_of_birth.isoformat(),
        "age": age_on(application.date_of_birth, deadline), "nationality": application.nationality,
        "correspondence_language": {"en": "English", "fr": "French"}[application.correspondence_language],
        "problems": application.problems, "departments": [names.get(c, c) for c in application.departments],
        "session": application.session.capitalize(), "education": application.education,
        "languages": application.languages, "motivation": application.motivation,
        "documents": [{"label": labels.get(d.kind, d.kind), "filename": d.filename,
                       "description": f"{d.pages} pages, appended" if d.media_type == PDF
                       else "Word document, available separately"} for d in application.documents],
    }


# a database cut mid-render must not leave the application without a dossier until the sweeper
@shared_task(name="intake.render_dossier", soft_time_limit=240, time_limit=300, autoretry_for=(OperationalError,),
             retry_backoff=True, retry_jitter=True, max_retries=10)
def render_dossier_task(reference: str) -> str | None:
    """Build the dossier PDF, store it under the application's key, tell review."""
    session = db.session
    application = session.scalars(select(Application).where(Application.reference == reference)
                                  .options(selectinload(Application.documents))).first()
    if application is None or application.status in ("withdrawn", "submitted", "checking"):
        session.rollback()
        return None
    store = DocumentStore(current_app.config["SETTINGS"].documents_dir)
    context = dossier_context(application, session.get(Call, application.call_id))
    attachments = [Attachment(described["label"],
                              store.read(d.key) if d.media_type == PDF and store.exists(d.key) else None)
                   for d, described in zip(application.documents, context["documents"])]
    started = time.perf_counter()
    try:
        rendered = render_dossier(context=context, attachments=attachments, reference=reference)
    except DossierRejected as rejected:
        session.rollback()
        _record_failure(session, reference, rejected)
        return None
    render_seconds = time.perf_counter() - started
    key = f"dossiers/{reference.lower()}.pdf"
    store.put_at(key, rendered.pdf)
    session.rollback()

    application = load_locked(session, reference)
    application.dossier_key, application.dossier_pages = key, rendered.pages
    application.dossier_sha256, application.dossier_rendered_at = rendered.sha256, utcnow()
    publish_event(session=session, outbox=OUTBOX, event=make_event("dossier.rendered", {
        "reference": reference, "dossier_key": key, "pages": rendered.pages, "sha256": rendered.sha256},
        producer="intake"))
    session.commit()
    # the render alone, apart from the task's database and store work: what the benchmark compares
    log.info("dossier rendered", extra={"reference": reference, "pages": rendered.pages,
                                        "render_seconds": round(render_seconds, 4)})
    return key


def _record_failure(session, reference: str, rejected: DossierRejected) -> None:
    """A dossier past its bounds is a problem on the application, not a task to retry forever: running
    again gives the same answer until the documents change."""
    application = load_locked(session, reference)
    if application is not None:
        kept = [p for p in application.problems or [] if p.get("code") != rejected.code]
        application.problems = [*kept, {"code": rejected.code, "message": (
            "The application's file for reviewers could not be assembled from the uploaded PDFs; "
            "we will contact you if a document must be uploaded again.")}]
    session.commit()
    log.warning("dossier not rendered", extra={"reference": reference, "code": rejected.code,
                                                "detail": rejected.message})
