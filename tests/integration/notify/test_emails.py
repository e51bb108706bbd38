"""Handling status changes: one email per change, in the candidate's language, retried when SMTP is down."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from shared.events import sign_event
from services.notify.db import INBOX, db
from services.notify.deliveries.models import Delivery
from services.notify.deliveries.service import MAX_ATTEMPTS
from services.notify.deliveries.tasks import deliver, handle_event, retry_overdue
from services.notify.mailcatcher import MailCatcher
from shared.db import utcnow


def deliveries():
    return db.session.scalars(select(Delivery).order_by(Delivery.id)).all()


def test_status_change_sends_one_email_naming_the_reference(app, mail_server, inbox_of, status_changed):
    event = status_changed(reference="NIP27-AB12CD", new="submitted")

    handle_event.run(event)

    [mail] = inbox_of()
    assert mail["To"] == "zoe.lefevre@example.org"
    assert "NIP27-AB12CD" in mail["Subject"]
    assert mail["Subject"] == "We have received your application NIP27-AB12CD"
    assert mail["Message-ID"] == f"<notify.{event['id']}@example.org>"
    text = mail.get_body(("plain",)).get_content()
    assert "Dear Zoé Lefèvre," in text
    assert "http://intake.test/status/NIP27-AB12CD" in text  # an event from before the portal: its status page
    assert "NIP27-AB12CD" in mail.get_body(("html",)).get_content()
    [row] = deliveries()
    assert (row.state, row.attempts, row.template, row.sent_at is not None) == ("sent", 1, "submitted/en", True)


def test_status_email_carries_the_events_single_use_link_and_its_expiry_in_brussels_time(
        app, mail_server, inbox_of, status_changed):
    link = "http://intake.test/access/single-use-secret?lang=fr"
    handle_event.run(status_changed(reference="NIP27-AB12CD", new="under_review", old="checking", language="fr",
                                    link=link, link_expires_at=datetime(2027, 1, 31, 22, 59, tzinfo=timezone.utc),
                                    department_names=["Finance et administration des affaires"]))

    [mail] = inbox_of()
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = mail.get_body(("html",)).get_content()
    assert f"Ouvrez votre candidature avec ce lien :\n{link}\n" in text and f'href="{link}"' in html
    assert "/status/" not in text + html
    for body in (text, html):
        assert "une seule fois et reste valable jusqu'au 31 janvier 2027, 23:59 (heure de Bruxelles)" in body
        assert "aux départements que vous avez choisis : Finance et administration des affaires." in body


def test_french_candidate_is_written_to_in_french(app, mail_server, inbox_of, status_changed):
    handle_event.run(status_changed(reference="NIP27-FR0001", new="incomplete", old="checking", language="fr",
                                    reason="missing_document",
                                    reasons=["Document manquant : Attestation d’études ou diplôme."]))

    [mail] = inbox_of()
    assert mail["Subject"] == "Action requise : votre candidature NIP27-FR0001 est incomplète"
    text = mail.get_body(("plain",)).get_content()
    assert text.startswith("Bonjour Zoé Lefèvre,")
    text = text.replace("\r\n", "\n")
    assert "Ce que nous avons constaté :\n- Document manquant : Attestation d’études ou diplôme.\n" in text
    assert "missing_document" not in text
    assert "Votre référence : NIP27-FR0001" in text
    assert deliveries()[0].language == "fr"


def test_same_event_twice_sends_one_email_and_keeps_one_row(app, mail_server, inbox_of, status_changed):
    event = status_changed(new="under_review", old="checking")

    handle_event.run(event)
    handle_event.run(event)

    assert len(inbox_of()) == 1
    assert len(deliveries()) == 1
    assert db.session.scalar(select(func.count()).select_from(INBOX)) == 1


def test_each_status_change_gets_its_own_email(app, mail_server, inbox_of, status_changed):
    handle_event.run(status_changed(new="submitted", old="draft"))
    handle_event.run(status_changed(new="under_review", old="checking"))

    subjects = [mail["Subject"] for mail in inbox_of()]
    assert subjects == ["We have received your application NIP27-7QK4M2",
                        "Your application NIP27-7QK4M2 is under review"]


def test_smtp_down_keeps_email_pending_then_retry_sends_it(app, notify_settings, inbox_of, broker_tasks,
                                                            status_changed):
    event = status_changed(new="shortlisted", old="under_review")

    handle_event.run(event)

    [row] = deliveries()
    assert (row.state, row.attempts, row.sent_at) == ("pending", 1, None)
    assert "Connection refused" in row.last_error or "ConnectionRefusedError" in row.last_error
    [retry] = broker_tasks()
    assert retry["task"] == "notify.deliver" and event["id"] in retry["args"]
    assert retry["eta"] is not None

    with MailCatcher(notify_settings.mail_dir, port=notify_settings.smtp_port):
        deliver.run(event["id"])

    [mail] = inbox_of()
    assert "NIP27-7QK4M2" in mail["Subject"]
    db.session.refresh(row)
    assert (row.state, row.attempts, row.last_error) == ("sent", 2, None)
    assert len(broker_tasks()) == 1


def test_redelivered_event_finishes_an_unsent_email(app, notify_settings, inbox_of, status_changed):
    event = status_changed(new="reserve", old="under_review")
    handle_event.run(event)
    assert inbox_of() == []

    with MailCatcher(notify_settings.mail_dir, port=notify_settings.smtp_port):
        handle_event.run(event)
        handle_event.run(event)

    assert len(inbox_of()) == 1
    [row] = deliveries()
    assert (row.state, row.attempts) == ("sent", 2)


def test_email_fails_for_good_after_eight_attempts(app, broker_tasks, status_changed):
    event = status_changed(new="rejected", old="under_review")
    handle_event.run(event)
    for _ in range(MAX_ATTEMPTS - 1):
        deliver.run(event["id"])

    [row] = deliveries()
    assert (row.state, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert row.last_error
    assert len(broker_tasks()) == MAX_ATTEMPTS - 1

    deliver.run(event["id"])
    db.session.refresh(row)
    assert row.attempts == MAX_ATTEMPTS


def test_sent_email_is_not_sent_again_by_a_late_retry(app, mail_server, inbox_of, status_changed):
    event = status_changed(new="withdrawn", old="under_review")
    handle_event.run(event)

    deliver.run(event["id"])

    assert len(inbox_of()) == 1
    assert deliveries()[0].attempts == 1


def test_overdue_pending_email_is_rescheduled(app, broker_tasks, status_changed):
    event = status_changed(new="ineligible", old="checking")
    handle_event.run(event)
    row = deliveries()[0]
    row.next_attempt_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    before = len(broker_tasks())

    assert retry_overdue.run() == 1

    assert len(broker_tasks()) == before + 1
    assert event["id"] in broker_tasks()[-1]["args"]


def test_status_without_template_is_logged_as_failed_without_email(app, mail_server, inbox_of, status_changed):
    handle_event.run(status_changed(new="checking", old="submitted"))

    assert inbox_of() == []
    [row] = deliveries()
    assert row.state == "failed"
    assert "no email template for status 'checking'" in row.last_error


def test_malformed_event_is_dropped_without_effect(app, mail_server, inbox_of, status_changed):
    event = status_changed()
    event["data"]["email"] = "not an address"
    sign_event(event)  # signed again after the change, as its producer would have

    handle_event.run(event)

    assert inbox_of() == []
    assert deliveries() == []
