"""What the retention rules erase: applications past their period, and stored files nothing points to."""
from __future__ import annotations

from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake.applications.models import Application
from services.intake.privacy.erasure import referenced_keys
from services.intake.programme.models import Call
from shared.documents import DocumentStore


def retention_cutoff(now: datetime, months: int) -> datetime:
    return now - relativedelta(months=months)


def due_for_erasure(*, session: Session, now: datetime, months: int) -> list[tuple[str, str]]:
    """(reference, status) of every application whose call's deadline and own last change are past retention."""
    # both: the decisions are made and told by then, or the application was left behind
    cutoff = retention_cutoff(now, months)
    rows = session.execute(select(Application.reference, Application.status).join(Call, Call.id == Application.call_id)
                           .where(Call.deadline < cutoff, Application.updated_at < cutoff)
                           .order_by(Application.reference))
    return [(row.reference, row.status) for row in rows]


def orphaned_documents(*, session: Session, store: DocumentStore, now: datetime, grace: timedelta) -> list[str]:
    """Stored files no application, document or draft refers to, older than `grace`."""
    # the grace: an upload is stored just before the transaction that records it commits
    used = referenced_keys(session=session)
    return [key for key in store.keys() if key not in used and store.stored_at(key) < now - grace]
