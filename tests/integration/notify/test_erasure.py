"""Notify after `application.erased`: the person's address and messages are gone from the delivery log and
the embedded mailbox, and a late event about them sends nothing."""
from __future__ import annotations

from sqlalchemy import select

from services.notify.db import db
from services.notify.deliveries.models import Delivery
from services.notify.deliveries.tasks import handle_event
from shared.db import utcnow
from shared.events import make_event


def erased(reference: str) -> dict:
    return make_event("application.erased", {"reference": reference, "erased_at": utcnow(), "reason": "applicant"},
                      producer="intake")


def test_erasure_blanks_the_log_and_the_mailbox_and_stops_later_email(app, client, mail_server, inbox_of,
                                                                       status_changed, staff_headers):
    gone, kept = "NIP27-GONE-AAAA", "NIP27-KEPT-BBBB"
    handle_event(status_changed(reference=gone, name="Erin Gone", email="erin.gone@example.org"))
    handle_event(status_changed(reference=kept, name="Kim Kept", email="kim.kept@example.org"))
    assert sorted(m["To"] for m in inbox_of()) == ["erin.gone@example.org", "kim.kept@example.org"]

    event = erased(gone)
    handle_event(event)
    handle_event(event)  # redelivered: nothing more happens

    assert [m["To"] for m in inbox_of()] == ["kim.kept@example.org"]
    rows = db.session.scalars(select(Delivery).where(Delivery.reference == gone)).all()
    assert len(rows) == 1
    assert (rows[0].recipient, rows[0].subject, rows[0].body_text, rows[0].body_html) == ("", "", "", "")
    log = client.get(f"/api/v1/notifications?reference={gone}", headers=staff_headers).get_json()
    assert "erin" not in str(log).lower()

    handle_event(status_changed(reference=gone, new="withdrawn", old="submitted", name="Erin Gone",
                                email="erin.gone@example.org"))
    assert len(db.session.scalars(select(Delivery).where(Delivery.reference == gone)).all()) == 1
    assert [m["To"] for m in inbox_of()] == ["kim.kept@example.org"]


def test_an_email_still_waiting_for_its_retry_is_never_sent_after_erasure(app, status_changed):
    reference = "NIP27-WAIT-CCCC"
    handle_event(status_changed(reference=reference, email="waiting@example.org"))  # no SMTP server: retry later
    waiting = db.session.scalar(select(Delivery).where(Delivery.reference == reference))
    assert waiting.state == "pending"

    handle_event(erased(reference))

    db.session.expire_all()
    row = db.session.scalar(select(Delivery).where(Delivery.reference == reference))
    assert (row.state, row.recipient, row.next_attempt_at) == ("failed", "", None)
    assert "erased" in row.last_error
