"""The review UI's email pages, reading a real notify over HTTP with a token minted for the signed-in user."""
import dataclasses
import threading

import pytest
from werkzeug.serving import make_server

from services import notify, review
from services.notify.db import db as notify_db
from services.notify.deliveries.tasks import handle_event
from services.notify.mailcatcher import free_port
from services.review.accounts.service import create_user
from services.review.audit.models import AuditEntry
from services.review.db import db as review_db
from tests.conftest import migrated_database, rolled_back
from tests.integration.notify.conftest import REFUSED_DOMAIN, Relay, make_status_changed
from services.review.applications.tasks import handle_event as review_handles
from tests.integration.review.conftest import PASSWORD, signed_in, submitted
from tests.integration.review.conftest import status_changed as review_status_changed


@pytest.fixture(scope="module")
def databases():
    return migrated_database("notify", "_ui"), migrated_database("review", "_ui")


@pytest.fixture
def served_notify(settings, databases):
    """Notify's web app on a real port (its own database), and a real SMTP server."""
    notify_settings = dataclasses.replace(settings, notify_database_url=databases[0], smtp_port=free_port(),
                                          broker_url="filesystem://")
    app = notify.create_app(notify_settings)
    server = make_server("127.0.0.1", free_port(), app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    relay = Relay(notify_settings.mail_dir, notify_settings.smtp_port).start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    relay.stop()
    server.shutdown()
    notify_db.session.remove()


@pytest.fixture
def app(settings, databases, served_notify):
    """Review, in a rolled-back transaction, pointed at the served notify."""
    app = review.create_app(dataclasses.replace(settings, review_database_url=databases[1],
                                                notify_url=served_notify[1]))
    app.config["TESTING"] = True
    with rolled_back(review_db):
        yield app


def user(app, email, role, departments=("it",)):
    with app.app_context():
        create_user(session=review_db.session, email=email, password=PASSWORD, role=role,
                    departments=list(departments))
        review_db.session.commit()
    return signed_in(app, email)


def under_review(departments=("it",)) -> str:
    """A fresh application, under review in review's read model; its reference."""
    reference = f"NIP27-UI{free_port():05d}"
    review_handles(submitted(reference, departments=departments))
    review_handles(review_status_changed(reference, "under_review"))
    return reference


def notify_handles(served_notify, *events):
    with served_notify[0].app_context():
        for event in events:
            handle_event.run(event)
        notify_db.session.remove()


def test_admin_sees_an_applications_emails_and_resends_a_failed_one(app, served_notify):
    with app.app_context():
        reference = under_review()
    notify_handles(served_notify,
                   make_status_changed(reference=reference, new="submitted"),
                   make_status_changed(reference=reference, new="under_review", email=f"ana@{REFUSED_DOMAIN}"))
    admin = user(app, "ui.admin@example.org", "admin", ())

    detail = admin.get(f"/applications/{reference}").get_data(as_text=True)
    assert f"/applications/{reference}/emails" in detail
    page = admin.get(f"/applications/{reference}/emails").get_data(as_text=True)
    assert "submitted/en" in page and "under_review/en" in page
    assert "recipient refused: 550 5.1.1 Mailbox does not exist" in page

    failed = admin.get("/emails/failed").get_data(as_text=True)
    assert reference in failed and "Corrected address" in failed
    delivery_id = int(failed.split('action="/emails/')[1].split("/resend")[0])
    token = failed.split('name="csrf_token" value="')[-1].split('"')[0]
    response = admin.post(f"/emails/{delivery_id}/resend", data={
        "csrf_token": token, "email": "ana@example.org", "back": f"/applications/{reference}/emails"})

    assert response.status_code == 302 and response.headers["Location"].endswith(f"/{reference}/emails")
    assert "is queued again" in admin.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        entry = review_db.session.query(AuditEntry).filter_by(action="email.resent", reference=reference).one()
        assert entry.details["address_changed"] is True
    again = admin.post(f"/emails/{delivery_id}/resend", data={"csrf_token": token}, follow_redirects=True)
    assert "only a failed one can be resent" in again.get_data(as_text=True)


def test_reviewer_cannot_read_emails_of_an_application_not_assigned_to_them(app, served_notify):
    with app.app_context():
        reference = under_review()
    notify_handles(served_notify, make_status_changed(reference=reference, departments=["it"]))
    reviewer = user(app, "ui.reviewer@example.org", "reviewer")

    assert reviewer.get(f"/applications/{reference}/emails").status_code == 404
    assert reviewer.post("/emails/1/resend", data={}).status_code in (400, 403)
    assert reviewer.get("/emails/templates").status_code == 403


def test_admin_previews_every_template(app, served_notify):
    admin = user(app, "ui.admin2@example.org", "admin", ())

    page = admin.get("/emails/templates").get_data(as_text=True)

    assert "access_erasure · fr" in page and "digest · en" in page and "rejected · en" in page
    assert "Problems in the templates" not in page
    assert page.count("<iframe sandbox") == 26  # 13 templates in 2 languages


def test_pages_say_so_when_notify_is_down(settings, databases):
    app = review.create_app(dataclasses.replace(settings, review_database_url=databases[1],
                                                notify_url=f"http://127.0.0.1:{free_port()}"))
    with rolled_back(review_db):
        admin = user(app, "ui.admin3@example.org", "admin", ())
        response = admin.get("/emails/failed")
    assert response.status_code == 200
    assert "The email service cannot be reached right now" in response.get_data(as_text=True)
