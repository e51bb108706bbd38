"""An admin in a real browser finds an email the mail server refused and resends it to the corrected address."""
from __future__ import annotations

import dataclasses
import threading

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from services import notify, review
from services.notify.db import db as notify_db
from services.notify.deliveries.models import Delivery
from services.notify.deliveries.tasks import deliver, handle_event
from services.notify.mailcatcher import free_port
from tests.conftest import migrated_database
from tests.e2e.browser import chromium, require_chromium, seed_under_review, sign_in
from tests.integration.notify.conftest import REFUSED_DOMAIN, Relay, make_status_changed, read_mail

playwright_api = pytest.importorskip("playwright.sync_api")

ADMIN, PASSWORD = "office@example.org", "a long enough password"
REFERENCE = "NIP27-E2EM1"


def serve(app) -> tuple:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def stack(settings):
    """Review and notify on real ports, each with its own database, and a relay that refuses one domain."""
    require_chromium()
    notify_settings = dataclasses.replace(settings, notify_database_url=migrated_database("notify", "_e2e"),
                                          smtp_port=free_port(), broker_url="filesystem://")
    notify_app = notify.create_app(notify_settings)
    notify_server, notify_url = serve(notify_app)
    review_app = review.create_app(dataclasses.replace(
        settings, review_database_url=migrated_database("review", "_e2em"), admin_email=ADMIN,
        admin_password=PASSWORD, notify_url=notify_url))
    with review_app.app_context():
        seed_under_review(REFERENCE)
    review_server, review_url = serve(review_app)
    relay = Relay(notify_settings.mail_dir, notify_settings.smtp_port).start()
    event = make_status_changed(reference=REFERENCE, new="under_review", email=f"ingrid@{REFUSED_DOMAIN}")
    with notify_app.app_context():
        handle_event.run(event)
    try:
        yield review_url, notify_app, event, notify_settings
    finally:
        relay.stop()
        review_server.shutdown()
        notify_server.shutdown()


def test_admin_resends_a_refused_email_to_the_corrected_address(stack):
    review_url, notify_app, event, notify_settings = stack
    with chromium() as browser:
        page = browser.new_page()
        sign_in(page, review_url, ADMIN, PASSWORD)

        page.get_by_role("link", name="Failed emails").click()
        row = page.get_by_role("row").filter(has_text=REFERENCE)
        playwright_api.expect(row).to_contain_text("recipient refused: 550 5.1.1 Mailbox does not exist")
        row.get_by_role("link", name=REFERENCE).click()
        playwright_api.expect(page.get_by_role("heading", level=1)).to_contain_text(f"Emails of {REFERENCE}")

        page.get_by_label("Corrected address (optional)").fill("ingrid@example.org")
        page.get_by_role("button", name="Resend").click()
        playwright_api.expect(page.get_by_role("status")).to_contain_text("is queued again")

        with notify_app.app_context():  # what notify's worker does with the queued resend
            deliver.run(event["id"])
            notify_db.session.remove()
        page.reload()
        row = page.get_by_role("row").filter(has_text="under_review/en")
        playwright_api.expect(row).to_contain_text("sent")
        playwright_api.expect(row).to_contain_text("ingrid@example.org")
    [mail] = read_mail(notify_settings.mail_dir)
    assert mail["To"] == "ingrid@example.org"
    with notify_app.app_context():
        assert notify_db.session.scalar(select(Delivery.state).where(Delivery.event_id == event["id"])) == "sent"
