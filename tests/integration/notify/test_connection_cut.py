"""A database connection cut after an email went out and before its transaction committed: the event, its
delivery and the outcome are written again on a fresh connection, and the email is not sent twice.

Not in a rolled-back transaction: the cut must hit the real connection the task commits on."""
import dataclasses

import pytest
from sqlalchemy import create_engine, select, text

from services.notify import create_app
from services.notify.db import INBOX, db
from services.notify.deliveries.models import Delivery
from services.notify.deliveries.tasks import handle_event
from tests.conftest import migrated_database


class CutAfterSending:
    """The real SMTP sender, but the first message it hands over is followed by the database connection of the
    task's transaction being terminated by PostgreSQL, as an operator's or a failover's cut would."""

    def __init__(self, sender, database_url: str):
        self.sender, self.cuts = sender, 0
        self.admin = create_engine(database_url, isolation_level="AUTOCOMMIT")

    def send(self, message) -> None:
        self.sender.send(message)
        if self.cuts == 0:
            backend = db.session.connection().connection.dbapi_connection.info.backend_pid
            with self.admin.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            self.cuts += 1


@pytest.fixture
def committing_app(notify_settings):
    url = migrated_database("notify", "_cut")
    app = create_app(dataclasses.replace(notify_settings, notify_database_url=url))
    with app.app_context():
        app.extensions["notify.sender"] = CutAfterSending(app.extensions["notify.sender"], url)
        yield app
        db.session.remove()
        app.extensions["notify.sender"].admin.dispose()
        db.engine.dispose()


def test_a_cut_between_the_send_and_the_commit_records_the_email_once_as_sent(
        committing_app, relay, inbox_of, status_changed):
    relay.start()
    event = status_changed(reference="NIP27-CUT001")
    handle_event.run(event)
    assert committing_app.extensions["notify.sender"].cuts == 1

    handle_event.run(event)  # the broker redelivers it: nothing is left to send
    assert [mail["X-Application-Reference"] for mail in inbox_of()] == ["NIP27-CUT001"]
    [delivery] = db.session.scalars(select(Delivery)).all()
    assert (delivery.event_id, delivery.state, delivery.attempts) == (event["id"], "sent", 1)
    assert db.session.scalars(select(INBOX.c.event_id)).all() == [event["id"]]
