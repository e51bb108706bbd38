"""Writing audit entries inside the caller's transaction."""
from sqlalchemy.orm import Session

from services.review.audit.models import AuditEntry


def record(*, session: Session, actor: str, action: str, reference: str | None = None,
           details: dict | None = None) -> AuditEntry:
    """Add one audit entry; the use case commits it with its effect."""
    entry = AuditEntry(actor=actor, action=action, reference=reference, details=details or {})
    session.add(entry)
    return entry
