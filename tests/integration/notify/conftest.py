"""Notify fixtures: a migrated PostgreSQL database, the app in a rolled-back transaction, a real SMTP server."""
from __future__ import annotations

import dataclasses
import json
from email import policy
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller

from services.notify import create_app
from services.notify.db import db
from services.notify.mailcatcher import MailCatcher, free_port, save_message
from shared.auth import StaffIdentity, issue_staff_token
from shared.db import utcnow
from shared.events import make_event
from tests.conftest import migrated_database, rolled_back


@pytest.fixture(scope="session")
def notify_database_url() -> str:
    return migrated_database("notify")


@pytest.fixture
def notify_settings(settings, notify_database_url):
    return dataclasses.replace(
        settings, notify_database_url=notify_database_url, broker_url="filesystem://",
        smtp_host="127.0.0.1", smtp_port=free_port(), intake_url="http://intake.test",
    )


@pytest.fixture
def app(notify_settings):
    app = create_app(notify_settings)
    with app.app_context(), rolled_back(db):
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def mail_server(notify_settings):
    """A real SMTP server on the port the app sends to, keeping mail in the settings' mail folder."""
    with MailCatcher(notify_settings.mail_dir, port=notify_settings.smtp_port) as catcher:
        yield catcher


@pytest.fixture
def staff_headers(notify_settings):
    identity = StaffIdentity(1, "office@example.org", "admin", ())
    return {"Authorization": f"Bearer {issue_staff_token(notify_settings.staff_signing_key, identity)}"}


@pytest.fixture
def status_changed():
    """A factory of `application.status_changed` envelopes, as intake publishes them."""
    return make_status_changed


@pytest.fixture
def inbox_of(notify_settings):
    """Reads the messages the SMTP server received, oldest first, parsed."""
    return lambda: read_mail(notify_settings.mail_dir)


@pytest.fixture
def broker_tasks(notify_settings):
    """Reads the tasks published to the test's embedded broker."""
    return lambda: scheduled_tasks(notify_settings)


def make_status_changed(*, reference="NIP27-7QK4M2", new="submitted", old="draft", language="en",
                   name="Zoé Lefèvre", email="zoe.lefevre@example.org", reason=None, departments=None,
                   **words) -> dict:
    """An `application.status_changed` envelope, as intake publishes it (`words`: link, link_expires_at, reasons,
    department_names, which an event from before the portal lacks)."""
    data = {"reference": reference, "old": old, "new": new, "reason": reason, "email": email, "name": name,
            "language": language, **words}
    if departments is not None:
        data["departments"] = departments
    return make_event("application.status_changed", data, producer="intake")


def read_mail(mail_dir) -> list:
    """The messages caught in `mail_dir`, oldest first, parsed."""
    paths = sorted(mail_dir.glob("*.eml")) if mail_dir.is_dir() else []
    return [BytesParser(policy=policy.default).parsebytes(path.read_bytes()) for path in paths]


def scheduled_tasks(settings) -> list[dict]:
    """Tasks published to the embedded broker: `{"task", "args", "eta"}`."""
    folder = settings.var_dir / "broker" / "queue"
    found = []
    for path in sorted(folder.glob("*.msg")) if folder.is_dir() else []:
        message = json.loads(path.read_text())
        headers = message["headers"]
        found.append({"task": headers["task"], "args": headers.get("argsrepr"), "eta": headers.get("eta")})
    return found


REFUSED_DOMAIN = "refused.example.org"


class _StrictRelay:
    """A relay that refuses recipients at REFUSED_DOMAIN for good (550) and counts its connections."""

    def __init__(self, mail_dir):
        self.mail_dir, self.peers = mail_dir, []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@" + REFUSED_DOMAIN):
            return "550 5.1.1 Mailbox does not exist"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if session.peer not in self.peers:
            self.peers.append(session.peer)
        save_message(self.mail_dir, envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


class Relay:
    """A real aiosmtpd server the test starts, stops and restarts on one port; TLS and AUTH on demand."""

    def __init__(self, mail_dir, port, **server_kwargs):
        self.handler = _StrictRelay(mail_dir)
        self.port, self.server_kwargs, self.controller = port, server_kwargs, None

    def start(self) -> "Relay":
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **self.server_kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def connections(self) -> int:
        """How many SMTP connections carried mail."""
        return len(self.handler.peers)


@pytest.fixture
def relay(notify_settings):
    """A stricter real SMTP server on the app's port (not started: the test decides when)."""
    server = Relay(notify_settings.mail_dir, notify_settings.smtp_port)
    yield server
    server.stop()


def make_review_assigned(*, reference, reviewer_id=7, email="rev.seven@example.org", language="en",
                         assigned_at=None) -> dict:
    """A `review.assigned` envelope, as review publishes it."""
    return make_event("review.assigned", {
        "reference": reference, "reviewer": {"id": reviewer_id, "email": email, "language": language},
        "assigned_at": assigned_at or utcnow()}, producer="review")


def make_review_unassigned(*, reference, reviewer_id=7, unassigned_at=None, reason="reviewer_deactivated") -> dict:
    """A `review.unassigned` envelope, as review publishes it."""
    return make_event("review.unassigned", {
        "reference": reference, "reviewer_id": reviewer_id, "unassigned_at": unassigned_at or utcnow(),
        "reason": reason}, producer="review")


def staff_token_headers(settings, *, role, user_id=7, departments=()) -> dict:
    identity = StaffIdentity(user_id, f"staff{user_id}@example.org", role, tuple(departments))
    return {"Authorization": f"Bearer {issue_staff_token(settings.staff_signing_key, identity)}"}
