"""Recording deliveries, attempting them, and reading the log. Never commits: the use case does."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, cast
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import BigInteger, BindParameter, Table, bindparam, case, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from services.notify.deliveries.models import APPLICANT, FAILED, PENDING, SENT, Delivery, DeliveryAction
from services.notify.deliveries.rendering import MissingTemplate, render_email, template_name
from services.notify.deliveries.smtp import EmailSender, build_message, describe, is_about_message, is_permanent
from services.notify.staff.scope import scoped
from shared.auth import StaffIdentity
from shared.db import utcnow
from shared.web import ApiError

log = logging.getLogger(__name__)
_table = cast(Table, Delivery.__table__)

MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 30
LONGEST_RETRY_SECONDS = 3600
# a due delivery this late has lost its scheduled retry (broker down when it was scheduled)
OVERDUE_GRACE = timedelta(minutes=5)
# the programme's time zone: the deadline and the applicant's pages are told in it, so the emails' expiries too
PROGRAMME_TZ = ZoneInfo("Europe/Brussels")


def status_url(intake_url: str, reference: str) -> str:
    return f"{intake_url.rstrip('/')}/status/{reference}"


def retry_delay(attempts: int) -> int:
    """Seconds to wait after the `attempts`-th failure: 30 s, 1 min, 2 min, ... capped at an hour."""
    return min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), LONGEST_RETRY_SECONDS)


def record_delivery(*, session: Session, event: dict, intake_url: str, now: datetime) -> None:
    """Create the pending delivery a status change calls for (a failed one when it has no template)."""
    data = event["data"]
    record_email(session=session, event_id=event["id"], reference=data["reference"], kind=APPLICANT,
                 template=data["new"], language=data["language"], recipient=data["email"], now=now,
                 context=status_context(data, intake_url))


def status_context(data: dict, intake_url: str) -> dict:
    """What a status email says, from its `application.status_changed` event's data."""
    reference, language, link = data["reference"], data["language"], data.get("link")
    expires_at = data.get("link_expires_at")
    # the event's reason is a code (the check's, or a reviewer's internal one): the email says `reasons`, the
    # sentences intake wrote for the candidate. An event from before the portal has no link: the status page
    return {"name": data["name"], "reference": reference, "link": link or status_url(intake_url, reference),
            "expires_at": format_moment(expires_at, language) if link and expires_at else None,
            "reasons": data.get("reasons") or [], "department_names": data.get("department_names") or []}


def record_access_email(*, session: Session, event: dict, now: datetime) -> None:
    """Create the pending delivery of an expiring link: one the applicant asked for (status, draft or erasure),
    or the one to their application after someone tried to submit another with their address (duplicate)."""
    data = event["data"]
    language = data["language"]
    record_email(session=session, event_id=event["id"], reference=data["reference"], kind=APPLICANT,
                 template=f"access_{data['purpose']}", language=language, recipient=data["email"], now=now,
                 context={"name": data["name"], "reference": data["reference"], "link": data["link"],
                          "expires_at": format_moment(data["expires_at"], language)})


def format_moment(moment: datetime, language: str) -> str:
    """A date and time as a reader of `language` writes it, in Brussels time (the templates say so)."""
    return format_datetime(moment, "d MMMM y, HH:mm", tzinfo=PROGRAMME_TZ, locale=language)


def record_email(*, session: Session, event_id: str, reference: str | None, kind: str, template: str,
                 language: str, recipient: str, context: dict, now: datetime) -> None:
    """Render and log one email as pending (as failed when its template is missing), ready to send."""
    row = dict(event_id=event_id, reference=reference, kind=kind, transition=template, language=language,
               template=template_name(template, language), recipient=recipient, state=PENDING, attempts=0,
               created_at=now, next_attempt_at=now, last_error=None)
    try:
        email = render_email(status=template, language=language, context=context)
    except MissingTemplate as exc:
        # kept in the log, where staff see it, rather than lost in a failed task
        log.error("no email template", extra={"reference": reference, "event_id": event_id,
                                              "template": template, "language": language})
        row.update(subject="", body_text="", body_html="", state=FAILED, last_error=str(exc), next_attempt_at=None)
    else:
        row.update(subject=email.subject, body_text=email.text, body_html=email.html)
    # a Core insert: an ORM object and its flush cost twice as much, for every email
    session.execute(insert(_table), row)


@dataclass
class Outgoing:
    """A pending delivery locked for sending, and what its attempt did (written back by `record_outcomes`)."""

    id: int
    event_id: str
    reference: str | None
    template: str
    recipient: str
    subject: str
    body_text: str
    body_html: str
    attempts: int
    state: str = PENDING
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None


# Built once, and Core rather than ORM: the send path runs for every email, and the statements' building,
# ORM objects and their flush cost more than the SMTP exchange itself (bench/notify.py).
_EVENT: BindParameter[str] = bindparam("event_id")
# The event's own delivery first (whether due or not: a redelivered event finishes its send), then overdue ones.
# Not those merely due: one may have just been sent by a worker whose outcome commit is being retried after a
# database cut (tasks._commit_outcomes), and its own retry task is on its way anyway.
_BATCH = (select(*(_table.c[name] for name in ("id", "event_id", "reference", "template", "recipient", "subject",
                                                "body_text", "body_html", "attempts")))
          .where(_table.c.state == PENDING,
                 or_(_table.c.event_id == _EVENT, _table.c.next_attempt_at <= bindparam("overdue_before")))
          .order_by(case((_table.c.event_id == _EVENT, 0), else_=1), _table.c.id)
          .limit(bindparam("limit")).with_for_update(skip_locked=True))
# by event id, which is unique: a delivery recorded again after a cut connection has a new id
_OUTCOME = (update(_table).where(_table.c.event_id == bindparam("outgoing_event_id"), _table.c.state == PENDING)
            .values({name: bindparam(f"new_{name}")
                     for name in ("state", "attempts", "sent_at", "next_attempt_at", "last_error")}))


def batch_for_update(*, session: Session, event_id: str, now: datetime | None, limit: int) -> list[Outgoing]:
    """Pending deliveries, locked so that two workers never send one both (skipping those another holds):
    the event's own, then up to `limit` in all whose retry is overdue (none when `now` is None)."""
    overdue_before = now - OVERDUE_GRACE if now is not None else None
    rows = session.execute(_BATCH, {"event_id": event_id, "overdue_before": overdue_before, "limit": limit})
    return [Outgoing(**row._mapping) for row in rows]


def record_outcomes(*, session: Session, batch: list[Outgoing]) -> None:
    """Write what the attempts did, in one statement; a delivery no longer pending is left alone."""
    if not batch:
        return
    session.execute(_OUTCOME, [{"outgoing_event_id": item.event_id, "new_state": item.state, "new_attempts": item.attempts,
                                "new_sent_at": item.sent_at, "new_next_attempt_at": item.next_attempt_at,
                                "new_last_error": item.last_error} for item in batch])


def attempt_deliveries(*, deliveries: list[Outgoing], sender: EmailSender, from_address: str,
                       reply_to: str | None = None, clock: Callable[[], datetime] = utcnow) -> dict[str, int]:
    """Try to send each once, in order; returns the seconds before the next try of those that will retry.

    Once the server cannot be reached (a failure that is not its answer about one message), the rest of
    the batch records that failure without trying: waiting on a dead connection once is enough.
    """
    retries, outage = {}, None
    for delivery in deliveries:
        error = outage
        if error is None:
            message = build_message(
                sender=from_address, recipient=delivery.recipient, subject=delivery.subject,
                text=delivery.body_text, html=delivery.body_html, event_id=delivery.event_id,
                reference=delivery.reference, reply_to=reply_to,
            )
            try:
                sender.send(message)
            except Exception as exc:  # every failure is recorded; only the kind decides whether to retry
                error, outage = exc, None if is_about_message(exc) else exc
        retry_in = _record_attempt(delivery, error, clock())
        if retry_in is not None:
            retries[delivery.event_id] = retry_in
    return retries


def _record_attempt(delivery: Outgoing, error: Exception | None, now: datetime) -> int | None:
    """Write one attempt's outcome on the delivery; returns the seconds before the next try, if any."""
    delivery.attempts += 1
    if error is None:
        delivery.state, delivery.sent_at, delivery.next_attempt_at, delivery.last_error = SENT, now, None, None
        log.info("email sent", extra={"reference": delivery.reference, "event_id": delivery.event_id,
                                      "template": delivery.template})
        return None
    delivery.last_error = describe(error)[:1000]
    if is_permanent(error) or delivery.attempts >= MAX_ATTEMPTS:
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


def list_deliveries(*, session: Session, staff: StaffIdentity, reference: str | None, state: str | None,
                    page: int, per_page: int) -> Page:
    """The delivery log a staff member may read, newest first, optionally for one application or state."""
    query = scoped(select(Delivery), staff)
    if reference:
        query = query.where(Delivery.reference == reference)
    if state:
        query = query.where(Delivery.state == state)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(query.order_by(Delivery.created_at.desc(), Delivery.id.desc())
                            .offset((page - 1) * per_page).limit(per_page)).all()
    return Page(items=list(items), page=page, per_page=per_page, total=total or 0)


# what only admins read in the log: the event id is a handle on intake's internal sync API, and the server's
# answer may quote what the candidate wrote (addresses are removed before it is stored, but not names)
ADMIN_ONLY_FIELDS = ("event_id", "last_error")


def as_shown_to(staff: StaffIdentity, row: dict) -> dict:
    """A dumped log row without what `staff` may not read: internals for anyone but admins, and the
    recipient for reviewers (an address names the candidate, and a reviewer may be in a blind round)."""
    if staff.is_admin:
        return row
    hidden = ADMIN_ONLY_FIELDS + (("recipient",) if staff.role == "reviewer" else ())
    return {key: (None if key in hidden else value) for key, value in row.items()}


def resend_delivery(*, session: Session, delivery_id: int, staff: StaffIdentity, email: str | None,
                    now: datetime) -> Delivery:
    """Put a failed delivery back in the queue (to a corrected address if given), audited; admins only."""
    if not staff.is_admin:
        raise ApiError(403, "forbidden", "Only an admin can resend an email.")
    # compared as a BIGINT: the column is a PostgreSQL INTEGER, and an id past its range bound as one is a
    # NumericValueOutOfRange (a 500) where it should simply match no email
    delivery = session.scalars(select(Delivery).where(Delivery.id == literal(delivery_id, BigInteger))
                               .with_for_update()).first()
    if delivery is None:
        raise ApiError(404, "not_found", "No such email.")
    if delivery.state != FAILED:
        raise ApiError(409, "not_failed", f"This email is {delivery.state}; only a failed one can be resent.")
    if not delivery.body_text:
        raise ApiError(409, "not_rendered", "This email was never rendered (its template is missing).")
    changed = email is not None and email != delivery.recipient
    if email is not None:
        delivery.recipient = email
    delivery.state, delivery.attempts, delivery.next_attempt_at = PENDING, 0, now
    session.add(DeliveryAction(delivery_id=delivery.id, action="resend", staff_id=staff.user_id,
                               staff_email=staff.email, address_changed=changed, at=now))
    session.flush()
    log.info("email resend requested", extra={"reference": delivery.reference, "event_id": delivery.event_id,
                                              "staff_id": staff.user_id, "address_changed": changed})
    return delivery
