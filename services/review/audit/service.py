"""Writing audit entries inside the caller's transaction, and reading the log."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from services.review.audit.models import AuditEntry

PER_PAGE = 100
# the actions that mean a staff member saw an applicant's personal data
VIEW_ACTIONS = ("application.viewed", "dossier.viewed", "dossier.downloaded", "document.viewed",
                "applications.exported", "application.exported")


def record(*, session: Session, actor: str, action: str, reference: str | None = None,
           details: dict | None = None) -> AuditEntry:
    """Add one audit entry; the use case commits it with its effect."""
    entry = AuditEntry(actor=actor, action=action, reference=reference, details=details or {})
    session.add(entry)
    return entry


def views_of(*, session: Session, reference: str) -> list[AuditEntry]:
    """Every staff view of one application's personal data, oldest first (for the applicant's export)."""
    return list(session.scalars(select(AuditEntry).where(AuditEntry.reference == reference,
                                                         AuditEntry.action.in_(VIEW_ACTIONS))
                                .order_by(AuditEntry.at, AuditEntry.id)))


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEntry]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _matching(*, actor: str | None, action: str | None, reference: str | None, since: datetime | None,
              until: datetime | None) -> Select:
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor.strip().lower())
    if action:
        query = query.where(AuditEntry.action == action)
    if reference:
        query = query.where(AuditEntry.reference == reference.strip().upper())
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    return query


def search(*, session: Session, actor: str | None = None, action: str | None = None, reference: str | None = None,
           since: datetime | None = None, until: datetime | None = None, page: int = 1,
           per_page: int = PER_PAGE) -> AuditPage:
    """One page of the log, newest first, filtered by actor, action, reference and a time range."""
    query = _matching(actor=actor, action=action, reference=reference, since=since, until=until)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                            .limit(per_page).offset((page - 1) * per_page)).all()
    return AuditPage(items=list(items), total=total, page=page, per_page=per_page)


def actions(*, session: Session) -> list[str]:
    """The actions the log holds, for the filter's choices."""
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
