"""Delivery ops against a real SMTP server that stops, restarts and refuses; resend by an admin."""
import dataclasses
from datetime import timedelta

from sqlalchemy import select, update

from services.notify import create_app
from services.notify.db import db
from services.notify.deliveries.models import Delivery, DeliveryAction
from services.notify.deliveries.service import OVERDUE_GRACE
from services.notify.deliveries.tasks import deliver, handle_event, retry_overdue
from shared.db import utcnow
from tests.conftest import rolled_back
from tests.integration.notify.conftest import REFUSED_DOMAIN, Relay, read_mail, staff_token_headers


def delivery_of(event) -> Delivery:
    db.session.expire_all()
    return db.session.scalars(select(Delivery).where(Delivery.event_id == event["id"])).one()


def test_outage_then_recovery_delivers_every_email_exactly_once(app, relay, inbox_of, status_changed):
    events = [status_changed(reference=f"NIP27-OUT00{i}", new="submitted") for i in range(3)]
    for event in events:
        handle_event.run(event)
    assert [delivery_of(e).state for e in events] == ["pending"] * 3
    assert inbox_of() == []

    relay.start()
    for event in events * 2:  # the scheduled retries, and the events redelivered by the broker
        deliver.run(event["id"])
        handle_event.run(event)

    assert sorted(mail["X-Application-Reference"] for mail in inbox_of()) == [
        "NIP27-OUT000", "NIP27-OUT001", "NIP27-OUT002"]
    assert [(delivery_of(e).state, delivery_of(e).attempts) for e in events] == [("sent", 2)] * 3


def test_one_connection_carries_a_batch_and_is_reopened_after_the_server_restarts(
        app, relay, inbox_of, status_changed):
    relay.start()
    for i in range(4):
        handle_event.run(status_changed(reference=f"NIP27-BAT00{i}"))
    assert (len(inbox_of()), relay.connections) == (4, 1)

    relay.stop()
    relay.start()
    later = status_changed(reference="NIP27-BAT009")
    handle_event.run(later)

    assert (len(inbox_of()), relay.connections) == (5, 2)
    assert (delivery_of(later).state, delivery_of(later).attempts) == ("sent", 1)


def test_emails_whose_retry_was_lost_go_out_with_the_next_event_in_one_batch_once_each(
        app, relay, inbox_of, broker_tasks, status_changed):
    backlog = [status_changed(reference=f"NIP27-BLG00{i}") for i in range(3)]
    for event in backlog:
        handle_event.run(event)
    # their retries are overdue (the broker lost them) while the server is still down: the next event's batch
    # fails them all again
    overdue = utcnow() - OVERDUE_GRACE - timedelta(seconds=1)
    db.session.execute(update(Delivery).values(next_attempt_at=overdue))
    db.session.commit()
    handle_event.run(status_changed(reference="NIP27-BLG003"))
    assert [(delivery_of(e).state, delivery_of(e).attempts) for e in backlog] == [("pending", 2)] * 3
    assert len(broker_tasks()) == 3 + 4  # every failed attempt keeps a retry scheduled

    db.session.execute(update(Delivery).values(next_attempt_at=overdue))
    db.session.commit()
    relay.start()
    latest = status_changed(reference="NIP27-BLG004")
    handle_event.run(latest)

    assert (len(inbox_of()), relay.connections) == (5, 1)
    assert [(delivery_of(e).state, delivery_of(e).attempts) for e in backlog] == [("sent", 3)] * 3
    assert (delivery_of(latest).state, delivery_of(latest).attempts) == ("sent", 1)
    for event in backlog:  # the retries scheduled during the outage find nothing left to send
        deliver.run(event["id"])
    assert len(inbox_of()) == 5


def test_an_email_merely_due_is_left_to_its_own_retry(app, relay, inbox_of, status_changed):
    # it may have just been sent by a worker still retrying to record that: only its own retry may send it
    waiting = status_changed(reference="NIP27-DUE001")
    handle_event.run(waiting)
    db.session.execute(update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    relay.start()
    handle_event.run(status_changed(reference="NIP27-DUE002"))
    assert [mail["X-Application-Reference"] for mail in inbox_of()] == ["NIP27-DUE002"]

    deliver.run(waiting["id"])
    assert (delivery_of(waiting).state, len(inbox_of())) == ("sent", 2)


def test_permanent_refusal_fails_and_an_admin_resends_to_the_corrected_address(
        app, client, relay, inbox_of, notify_settings, status_changed):
    relay.start()
    event = status_changed(reference="NIP27-REF001", email=f"zoe@{REFUSED_DOMAIN}")
    handle_event.run(event)

    failed = delivery_of(event)
    assert (failed.state, failed.attempts, failed.next_attempt_at) == ("failed", 1, None)
    assert failed.last_error == "recipient refused: 550 5.1.1 Mailbox does not exist"
    assert retry_overdue.run() == 0 and inbox_of() == []

    url = f"/api/v1/notifications/{failed.id}/resend"
    reviewer = client.post(url, json={"email": "zoe@example.org"},
                           headers=staff_token_headers(notify_settings, role="reviewer"))
    assert reviewer.status_code == 403
    invalid = client.post(url, json={"email": "not an address"},
                          headers=staff_token_headers(notify_settings, role="admin", user_id=1))
    assert invalid.status_code == 422 and "email" in invalid.json["error"]["fields"]

    admin = staff_token_headers(notify_settings, role="admin", user_id=1)
    response = client.post(url, json={"email": "zoe@example.org"}, headers=admin)
    assert response.status_code == 202
    assert (response.json["state"], response.json["recipient"]) == ("pending", "zoe@example.org")
    deliver.run(event["id"])

    [mail] = inbox_of()
    assert mail["To"] == "zoe@example.org" and mail["X-Application-Reference"] == "NIP27-REF001"
    assert delivery_of(event).state == "sent"
    [action] = db.session.scalars(select(DeliveryAction)).all()
    assert (action.action, action.staff_id, action.address_changed) == ("resend", 1, True)
    again = client.post(url, json={}, headers=admin)
    assert again.status_code == 409 and again.json["error"]["code"] == "not_failed"
    assert client.post("/api/v1/notifications/999999/resend", json={}, headers=admin).status_code == 404


def test_reply_to_comes_from_the_settings(notify_settings, relay, status_changed):
    settings = dataclasses.replace(notify_settings, smtp_reply_to="office@example.org",
                                   smtp_from="NIP <noreply@example.org>")
    relay.start()
    with create_app(settings).app_context(), rolled_back(db):
        handle_event.run(status_changed())
    [mail] = read_mail(settings.mail_dir)
    assert (mail["From"], mail["Reply-To"]) == ("NIP <noreply@example.org>", "office@example.org")


def test_an_address_outside_ascii_is_delivered_by_a_server_that_takes_smtputf8(notify_settings, app, inbox_of,
                                                                               status_changed):
    relay = Relay(notify_settings.mail_dir, notify_settings.smtp_port, enable_SMTPUTF8=True).start()
    try:
        event = status_changed(email="zoé@example.org")
        handle_event.run(event)
    finally:
        relay.stop()
    [mail] = inbox_of()
    assert mail["To"] == "zoé@example.org"
    assert delivery_of(event).state == "sent"
