"""Erasing an application's personal data: intake's own, then every consumer's through `application.erased`.

What stays is a tombstone (reference, call, final status, dates, department codes, nationality's region) and
anonymous counts. Service functions never commit; callers commit, then delete the files (`delete_documents`):
a file must never go before the rows that point to it, and a file left by a crash is an orphan the purge removes.
"""
from __future__ import annotations

import logging

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from services.intake.access.models import Draft, HeldUpload
from services.intake.applications.models import Application, Document
from services.intake.db import DEAD_LETTERS, OUTBOX
from services.intake.portal.links import forget as forget_links
from services.intake.privacy.models import ErasedCount, Tombstone
from services.intake.privacy.regions import region_of
from shared.bus import publish_event
from shared.db import utcnow
from shared.documents import DocumentStore
from shared.events import make_event

log = logging.getLogger(__name__)

APPLICANT, RETENTION = "applicant", "retention"


def dossier_files(application: Application) -> dict[str, str]:
    """Both dossier variants' keys, where rendered, by the name an export gives them."""
    keys = {"dossier.pdf": application.dossier_key,
            "dossier-blind.pdf": application.blind_dossier_key}
    return {name: key for name, key in keys.items() if key}


def statistics_values(application: Application) -> list[tuple[str, str]]:
    """The (dimension, value) pairs an application counts under in the anonymous statistics."""
    education = application.education or {}
    pairs = [("total", "all"), ("status", application.status), ("session", application.session),
             ("nationality", application.nationality),
             ("education_level", str(education.get("degree_level") or "unknown"))]
    pairs += [("department", code) for code in dict.fromkeys(application.departments or ())]
    return pairs


def _count_erased(session: Session, application: Application) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for dimension, value in statistics_values(application):
        statement = insert(ErasedCount).values(call_id=application.call_id, dimension=dimension,
                                               value=value[:40], count=1)
        session.execute(statement.on_conflict_do_update(
            index_elements=["call_id", "dimension", "value"], set_={"count": ErasedCount.count + 1}))


def find_tombstone(*, session: Session, reference: str) -> Tombstone | None:
    return session.scalar(select(Tombstone).where(Tombstone.reference == reference))


def load_application(*, session: Session, reference: str, lock: bool = False) -> Application | None:
    """The application with its documents and history; `lock` against a concurrent erasure or status change."""
    query = select(Application).where(Application.reference == reference).options(
        selectinload(Application.documents), selectinload(Application.history))
    return session.scalars(query.with_for_update() if lock else query).first()


def erase_application(*, session: Session, application: Application, reason: str) -> tuple[Tombstone, list[str]]:
    """Replace the application by its tombstone, publish `application.erased`; returns it and the files to delete."""
    reference, now = application.reference, utcnow()
    keys = [d.key for d in application.documents] + list(dossier_files(application).values())
    tombstone = Tombstone(
        reference=reference, call_id=application.call_id, final_status=application.status,
        departments=list(dict.fromkeys(application.departments or ())), region=region_of(application.nationality),
        submitted_at=application.submitted_at,
        last_status_at=application.history[-1].at if application.history else application.updated_at,
        erased_at=now, reason=reason[:500])
    _count_erased(session, application)
    # sent events and failed ones still carry the name and address; reconciliation reads them no more
    mentions = f'%"{reference}"%'
    session.execute(delete(OUTBOX).where(OUTBOX.c.body.like(mentions)))
    session.execute(delete(DEAD_LETTERS).where(DEAD_LETTERS.c.body.like(mentions)))
    session.execute(delete(Draft).where(Draft.reference == reference))
    forget_links(session=session, reference=reference)
    session.delete(application)
    session.add(tombstone)
    publish_event(session=session, outbox=OUTBOX, event=make_event(
        "application.erased", {"reference": reference, "erased_at": now, "reason": tombstone.reason},
        producer="intake"))
    session.flush()
    return tombstone, sorted(set(keys) - referenced_keys(session=session, among=keys))


def referenced_keys(*, session: Session, among: list[str] | None = None) -> set[str]:
    """Stored keys some application, document, draft or held upload still points to (`among` narrows it)."""
    documents = select(Document.key)
    dossiers = select(Application.dossier_key, Application.blind_dossier_key)
    if among is not None:
        documents = documents.where(Document.key.in_(among))
        dossiers = dossiers.where(or_(Application.dossier_key.in_(among), Application.blind_dossier_key.in_(among)))
    found: set[str] = set(session.scalars(documents))
    found |= {key for row in session.execute(dossiers) for key in row if key}
    # content-addressed uploads: a draft, or a form refused a moment ago, may hold the very same bytes
    for documents_of_draft in session.scalars(select(Draft.documents)):
        found |= {d["key"] for d in (documents_of_draft or {}).values() if isinstance(d, dict) and d.get("key")}
    held = select(HeldUpload.key) if among is None else select(HeldUpload.key).where(HeldUpload.key.in_(among))
    found |= set(session.scalars(held))
    return found if among is None else found & set(among)


def delete_documents(store: DocumentStore, keys: list[str]) -> None:
    """Remove erased documents from the store (after the commit that dropped their rows)."""
    for key in keys:
        store.delete(key)


def erase_reference(*, session: Session, reference: str, reason: str) -> tuple[Tombstone | None, list[str]]:
    """Erase by reference; an application erased before answers with its tombstone and nothing to delete."""
    application = load_application(session=session, reference=reference, lock=True)
    if application is None:
        return find_tombstone(session=session, reference=reference), []
    tombstone, keys = erase_application(session=session, application=application, reason=reason)
    log.info("application erased", extra={"reference": reference, "documents": len(keys)})
    return tombstone, keys


def run_erasure(*, session: Session, store: DocumentStore, reference: str, reason: str) -> Tombstone | None:
    """The use case: erase, commit once, then delete the stored files; None for an unknown reference."""
    tombstone, keys = erase_reference(session=session, reference=reference, reason=reason)
    session.commit()
    delete_documents(store, keys)
    return tombstone
