"""The dossier render task: safe to run twice, the dossier keys (full and blind) are the application's own."""
from __future__ import annotations

import hashlib
import logging
import resource
import time
from typing import cast

from celery import Celery, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init
from flask import current_app
from sqlalchemy import CursorResult, Row, bindparam, select, update
from sqlalchemy.exc import OperationalError

from services.intake.applications.checks import PROGRAMME_TZ
from services.intake.applications.eligibility import age_on
from services.intake.applications.models import Application, Document
from services.intake.applications.service import RENDER_QUEUE
from services.intake.applications.tasks import load_locked
from services.intake.db import OUTBOX, db
from services.intake.documents.inspect import INSPECTOR
from services.intake.dossier.render import Attachment, DossierRejected, render_dossier
from services.intake.programme.models import Call
from shared.bus import publish_event
from shared.db import utcnow
from shared.documents import DocumentStore, DocumentTampered
from shared.events import make_event

log = logging.getLogger(__name__)


def dossier_context(application: Application | Row, call: Call) -> dict:
    """What the summary shows, from the application (as an object or a row of its table)."""
    assert application.submitted_at is not None, "only a submitted application has a dossier"
    names = {d["code"]: d["name"]["en"] for d in call.departments}
    deadline = call.deadline.astimezone(PROGRAMME_TZ).date()
    return {
        "call_name": call.name, "reference": application.reference,
        "name": f"{application.given_name} {application.family_name}",
        "submitted_at": application.submitted_at.astimezone(PROGRAMME_TZ).strftime("%Y-%m-%d %H:%M %Z"),
        "email": application.email, "date_of_birth": application.date_of_birth.isoformat(),
        "age": age_on(application.date_of_birth, deadline), "nationality": application.nationality,
        "correspondence_language": {"en": "English", "fr": "French"}[application.correspondence_language],
        "problems": application.problems, "departments": [names.get(c, c) for c in application.departments],
        "session": application.session.capitalize(), "education": application.education,
        "languages": application.languages, "motivation": application.motivation,
    }


def limit_render_memory(celery: Celery, megabytes: int) -> None:
    """Cap the data each child of a worker consuming the render queue may hold (0: no cap)."""

    @worker_process_init.connect(weak=False)
    def _cap(**_kwargs) -> None:
        # max-memory-per-child is judged only after a task ends; this bound holds during one: past it, an
        # allocation fails with MemoryError and the document being read is flagged, the child lives on
        if megabytes and RENDER_QUEUE in (celery.amqp.queues.consume_from or {}):
            hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
            soft = megabytes * 1024 * 1024 if hard == resource.RLIM_INFINITY else min(megabytes * 1024 * 1024, hard)
            resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def dossier_key(reference: str, *, blind: bool = False) -> str:
    """Where the dossier (or its blind variant) of `reference` is stored: the same at every render."""
    return f"dossiers/{reference.lower()}{'-blind' if blind else ''}.pdf"


# statements built once (through the ORM, each cost about a millisecond a task): the application and its
# documents as rows, the attempt counter, which leaves updated_at the status's own, and the dossier's columns
# after a render (the row locked, updated_at set as by any change)
_APPLICATIONS, _DOCUMENTS = Application.__table__, Document.__table__
_READ_APPLICATION = select(_APPLICATIONS).where(_APPLICATIONS.c.reference == bindparam("dossier_of"))
_READ_DOCUMENTS = (select(_DOCUMENTS).where(_DOCUMENTS.c.application_id == bindparam("application_id"))
                   .order_by(_DOCUMENTS.c.id))
_COUNT_ATTEMPT = update(_APPLICATIONS).where(_APPLICATIONS.c.reference == bindparam("dossier_of")).values(
    dossier_attempts=_APPLICATIONS.c.dossier_attempts + 1, updated_at=_APPLICATIONS.c.updated_at)
_WRITE_DOSSIER = update(_APPLICATIONS).where(_APPLICATIONS.c.reference == bindparam("dossier_of"))

# renders of one application started and never finished (their process killed by the hard limit, the memory
# cap or a crash in a native library) before its documents are left out and the summary alone is rendered
MAX_RENDER_ATTEMPTS = 3


# a database cut mid-render must not leave the application without a dossier until the sweeper; a document
# that makes the renderer loop meets the soft limit (it is then left out), the hard limit ends the child
# whatever it was doing, and the worker lives on; the attempts counted on the row end a document that does
# that every time
@shared_task(bind=True, name="intake.render_dossier", soft_time_limit=60, time_limit=120,
             autoretry_for=(OperationalError,), retry_backoff=True, retry_jitter=True, max_retries=10)
def render_dossier_task(self, reference: str) -> str | None:
    """Build the dossier PDF and its blind variant, store them under the application's keys, tell review."""
    session = db.session
    # rows, not ORM objects: loading the application and its documents as objects cost a millisecond a task
    application = session.execute(_READ_APPLICATION, {"dossier_of": reference}).first()
    if application is None or application.status in ("withdrawn", "submitted", "checking"):
        session.rollback()
        return None
    store = DocumentStore.of(current_app.config["SETTINGS"])
    call = session.get_one(Call, application.call_id)
    context = dossier_context(application, call)
    labels = {d["kind"]: d["label"] for d in call.documents}
    attachments = [_attachment(d, labels.get(d.kind, d.kind), _stored(store, d.key))
                   for d in session.execute(_READ_DOCUMENTS, {"application_id": application.id})]
    unfinished = application.dossier_attempts
    if self.request.retries == 0:  # a retry after a database error is the same attempt, not a killed one
        _count_attempt(session, reference)
    left_out = "document_not_rendered" if unfinished >= MAX_RENDER_ATTEMPTS else None
    started = time.perf_counter()
    try:
        try:
            rendered = render_dossier(context=context, attachments=attachments, reference=reference,
                                      left_out=left_out)
        except SoftTimeLimitExceeded:
            if left_out is not None:
                raise
            # the limit fell where the render could not name the slow document: all are left out, and the
            # summary alone is rendered in the time left before the hard limit
            log.warning("dossier render past its soft time limit", extra={"reference": reference})
            rendered = render_dossier(context=context, attachments=attachments, reference=reference,
                                      left_out="document_not_rendered")
    except DossierRejected as rejected:
        session.rollback()
        _record_failure(session, reference, rejected)
        return None
    render_seconds = time.perf_counter() - started
    key, blind_key = dossier_key(reference), dossier_key(reference, blind=True)
    store.put_at(key, rendered.pdf)
    store.put_at(blind_key, rendered.blind.pdf)
    session.rollback()
    written = cast(CursorResult, session.execute(_WRITE_DOSSIER, {
        "dossier_of": reference, "dossier_key": key, "dossier_pages": rendered.pages,
        "dossier_sha256": rendered.sha256, "dossier_rendered_at": utcnow(), "blind_dossier_key": blind_key,
        "blind_dossier_pages": rendered.blind.pages, "blind_dossier_sha256": rendered.blind.sha256,
        "dossier_flags": list(rendered.flags), "dossier_attempts": 0}))
    if written.rowcount == 0:  # erased while rendered: its dossier goes with it at the next purge of orphans
        session.rollback()
        return None
    publish_event(session=session, outbox=OUTBOX, event=make_event("dossier.rendered", {
        "reference": reference, "dossier_key": key, "pages": rendered.pages, "sha256": rendered.sha256,
        "blind_dossier_key": blind_key, "blind_pages": rendered.blind.pages, "blind_sha256": rendered.blind.sha256,
        "flags": list(rendered.flags)}, producer="intake"))
    session.commit()
    session.expire_all()  # written past the ORM: whoever holds the application in this session reads it again
    # the render alone, apart from the task's database and store work: what the benchmark compares
    log.info("dossier rendered", extra={"reference": reference, "pages": rendered.pages,
                                        "flags": [f["code"] for f in rendered.flags],
                                        "render_seconds": round(render_seconds, 4)})
    return key


def _count_attempt(session, reference: str) -> None:
    """Record, before anything is opened, that a render of `reference` started (committed: a killed process
    leaves it counted). Only this column changes: updated_at stays the status's own."""
    session.execute(_COUNT_ATTEMPT, {"dossier_of": reference})
    session.commit()


def _attachment(document: Document | Row, label: str, data: bytes | None) -> Attachment:
    # the very bytes the current inspector judged: its walk covers every bound the renderer would check again
    inspected = (data is not None and document.pages is not None and document.inspected_by == INSPECTOR
                 and hashlib.sha256(data).hexdigest() == document.sha256)
    return Attachment(label, data, document.media_type, document.filename,
                      inspected_pages=document.pages if inspected else None)


def _stored(store: DocumentStore, key: str) -> bytes | None:
    """The upload's bytes; None when it is gone or fails its authentication (staff see it flagged)."""
    if not store.exists(key):
        return None
    try:
        return store.read(key)
    except DocumentTampered:
        log.warning("stored document failed its authentication", extra={"key": key})
        return None


def _record_failure(session, reference: str, rejected: DossierRejected) -> None:
    """A dossier past its bounds is a problem on the application, not a task to retry forever: running
    again gives the same answer until the documents change."""
    application = load_locked(session, reference)
    if application is not None:
        application.dossier_attempts = 0
        kept = [p for p in application.problems or [] if p.get("code") != rejected.code]
        application.problems = [*kept, {"code": rejected.code, "message": (
            "The application's file for reviewers could not be assembled from the uploaded PDFs; "
            "we will contact you if a document must be uploaded again.")}]
    session.commit()
    log.warning("dossier not rendered", extra={"reference": reference, "code": rejected.code,
                                                "detail": rejected.message})
