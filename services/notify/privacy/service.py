"""Erasing a person from notify: addresses and rendered messages of their deliveries. Never commits."""
from __future__ import annotations

import logging
from datetime import datetime
from email import policy
from email.parser import BytesParser
from functools import wraps
from pathlib import Path
from typing import cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from services.notify.db import DEAD_LETTERS
from services.notify.deliveries.models import FAILED, PENDING, Delivery
from services.notify.mailcatcher import SUFFIX
from services.notify.privacy.models import ErasedReference

log = logging.getLogger(__name__)
NOT_SENT = "not sent: the application was erased"


def erase_deliveries(*, session: Session, reference: str, erased_at: datetime) -> None:
    """Blank the recipient, subject and bodies of the reference's emails; fail those not sent yet."""
    if session.get(ErasedReference, reference) is None:
        session.add(ErasedReference(reference=reference, erased_at=erased_at))
    session.execute(update(Delivery).where(Delivery.reference == reference, Delivery.state == PENDING)
                    .values(state=FAILED, next_attempt_at=None))
    session.execute(update(Delivery).where(Delivery.reference == reference).values(
        recipient="", subject="", body_text="", body_html="", last_error=NOT_SENT))
    session.execute(delete(DEAD_LETTERS).where(DEAD_LETTERS.c.body.like(f'%"{reference}"%')))


def erase_caught_mail(mail_dir: Path, reference: str) -> int:
    """Embedded mode: delete the catcher's copies of the reference's emails (they hold address and name)."""
    removed = 0
    if not mail_dir.is_dir():
        return removed
    for path in mail_dir.glob(f"*{SUFFIX}"):
        with path.open("rb") as handle:
            headers = BytesParser(policy=policy.default).parse(handle, headersonly=True)
        if headers.get("X-Application-Reference") == reference:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# a Core query built once, not session.get nor an ORM select: this runs for every email, and nearly always finds
# nothing; the ORM's statement handling cost as much as the round trip
_ERASED_TABLE = cast(Table, ErasedReference.__table__)
_ERASED = select(_ERASED_TABLE.c.reference).where(_ERASED_TABLE.c.reference == bindparam("reference"))


def unless_erased(handler):
    """An email handler that records nothing for an erased reference (an event delayed past the erasure)."""

    @wraps(handler)
    def apply(*, session: Session, event: dict) -> None:
        reference = event["data"].get("reference")
        if reference and session.scalar(_ERASED, {"reference": reference}) is not None:
            log.info("no email for an erased application", extra={"reference": reference, "event_type": event["type"]})
            return
        handler(session=session, event=event)

    return apply
