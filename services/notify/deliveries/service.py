"""Recording deliveries, attempting them, and reading the log. Never commits: the use case does."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.notify.deliveries.models import FAILED, PENDING, SENT, Delivery
from services.notify.deliveries.rendering import MissingTemplate, render_email, template_name
from services.notify.deliveries.smtp import EmailSender, build_message, is_permanent

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 30
LONGEST_RETRY_SECONDS = 3600
# a due delivery this late has lost its scheduled retry (broker down when it was scheduled)
OVERDUE_GRACE = timedelta(minutes=5)


def status_url(intake_url: str, reference: str) -> str:
    return f"{intake_url.rstrip('/')}/status/{reference}"


def retry_delay(attempts: int) -> int:
    """Seconds to wait after the `attempts`-th failure: 30 s, 1 min, 2 min, ... capped at an hour."""
    return min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), LONGEST_RETRY_SECONDS)


def record_delivery(*, session: Session, event: dict, intake_url: str, now: datetime) -> Delivery:
    """Create the pending delivery a status change calls for (a failed one when it has no template)."""
    data = event["data"]
    status, language, reference = data["new"], data["language"], data["reference"]
    delivery = Delivery(
        event_id=event["id"], reference=reference, transition=status, language=language,
        template=template_name(status, language), recipient=data["email"], state=PENDING, attempts=0,
        created_at=now, next_attempt_at=now,
    )
    try:
        email = render_email(status=status, language=language, context={
            "name": data["name"], "reference": reference, "reason": data.get("reason"),
            "status_url": status_url(intake_url, reference),
        })
    except MissingTemplate as exc:
        # kept in the log, where staff see it, rather than lost in a failed task
        log.error("no email template", extra={"reference": reference, "event_id": event["id"],
                                              "status": status, "language": language})
        delivery.subject, delivery.body_text, delivery.body_html = "", "", ""
        delivery.state, delivery.last_error, delivery.next_attempt_at = FAILED, str(exc), None
    else:
        delivery.subject, delivery.body_text, delivery.body_html = email.subject, email.text, email.html
    session.add(delivery)
    session.flush()
    return delivery


def pending_delivery_for_update(*, session: Session, event_id: str) -> Delivery | None:
    """The pending delivery of an event, locked so that two workers never send it both."""
    query = select(Delivery).where(Delivery.event_id == event_id, Delivery.state == PENDING)
    return session.scalars(query.with_for_update(skip_locked=True)).first()


def attempt_delivery(*, delivery: Delivery, sender: EmailSender, from_address: str, now: datetime) -> int | None:
    """Try to send once; returns the seconds before the next try, or None when there is none."""
    message = build_message(
        sender=from_address, recipient=delivery.recipient, subject=delivery.subject, text=delivery.body_text,
        html=delivery.body_html, event_id=delivery.event_id, reference=delivery.reference,
    )
    delivery.attempts += 1
    try:
        sender.send(message)
    except Exception as exc:  # every failure is recorded; only the kind decides whether to retry
        delivery.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        if is_permanent(exc) or delivery.attempts >= MAX_ATTEMPTS:
            delivery.state, delivery.next_attempt_at = FAILED, None
            log.error("email failed for good", extra={"reference": delivery.reference,
                                                      "event_id": delivery.event_id, "attempts": delivery.attempts})
            return None
        delay = retry_delay(delivery.attempts)
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        log.warning("email not sent, will retry", extra={"reference": delivery.reference,
                                                         "event_id": delivery.event_id,
                                                         "attempts": delivery.attempts, "retry_in": delay})
        return delay
    delivery.state, delivery.sent_at, delivery.next_attempt_at, delivery.last_error = SENT, now, None, None
    log.info("email sent", extra={"reference": delivery.reference, "event_id": delivery.event_id,
                                  "template": delivery.template})
    return None


def overdue_event_ids(*, session: Session, now: datetime, limit: int = 500) -> list[str]:
    """Pending deliveries whose retry should have happened a while ago."""
    query = (select(Delivery.event_id)
             .where(Delivery.state == PENDING, Delivery.next_attempt_at <= now - OVERDUE_GRACE)
             .order_by(Delivery.next_attempt_at).limit(limit))
    return list(session.scalars(query))


@dataclass(frozen=True)
class Page:
    items: list[Delivery]
    page: int
    per_page: int
    total: int


def list_deliveries(*, session: Session, reference: str | None, page: int, per_page: int) -> Page:
    """The delivery log, newest first, optionally for one application."""
    query = select(Delivery)
    if reference:
        query = query.where(Delivery.reference == reference)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(query.order_by(Delivery.created_at.desc(), Delivery.id.desc())
                            .offset((page - 1) * per_page).limit(per_page)).all()
    return Page(items=list(items), page=page, per_page=per_page, total=total)
