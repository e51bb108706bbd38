"""Notify fixtures: a migrated PostgreSQL database, the app in a rolled-back transaction, a real SMTP server."""
from __future__ import annotations

import dataclasses
import json
from email import policy
from email.parser import BytesParser

import pytest

from services.notify import create_app
from services.notify.db import db
from services.notify.mailcatcher import MailCatcher, free_port
from shared.auth import StaffIdentity, issue_staff_token
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
                   name="Zoé Lefèvre", email="zoe.lefevre@example.org", reason=None) -> dict:
    """An `application.status_changed` envelope, as intake publishes it."""
    return make_event("application.status_changed", {
        "reference": reference, "old": old, "new": new, "reason": reason, "email": email, "name": name,
        "language": language}, producer="intake")


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
