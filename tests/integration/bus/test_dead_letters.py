"""Consumers never drop an event: failures are retried, then dead-lettered, visible to staff and replayable."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from shared.events import sign_event
from services.notify.deliveries.tasks import handle_event as notify_handle_event
from services.review import create_app as review_app_factory
from services.review.accounts.service import create_user
from services.review.applications.tasks import handle_event
from services.review.db import db
from shared.bus.consumer import MAX_RETRIES
from tests.integration.bus.helpers import status_changed, submitted

PASSWORD = "a long enough password"


@pytest.fixture
def review(bus_settings):
    app = review_app_factory(bus_settings, first_admin=False)
    app.config["TESTING"] = True
    with app.app_context():
        yield app
    db.session.remove()
    db.engine.dispose()


@pytest.fixture
def review_sql(databases):
    engine = create_engine(databases["review"], isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def bearer(app, email: str, role: str) -> dict:
    create_user(session=db.session, email=email, password=PASSWORD, role=role,
                departments=[] if role == "admin" else ["it"])
    db.session.commit()
    response = app.test_client().post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def open_letters(conn) -> list:
    return conn.execute(text("SELECT * FROM dead_letters WHERE replayed_at IS NULL ORDER BY id")).all()


def test_a_handler_that_keeps_failing_ends_in_a_dead_letter_that_a_replay_applies_once(
        review, review_sql, command):
    # the cause: the database refuses this application's row, on every attempt
    review_sql.execute(text("ALTER TABLE applications ADD CONSTRAINT h5_block CHECK (reference <> 'NIP27-BLOCK1')"))
    event = submitted("NIP27-BLOCK1")

    result = handle_event.apply(args=[event])  # as a worker runs it, retries included (eagerly)

    assert result.get() is False
    [letter] = open_letters(review_sql)
    assert letter.event_id == event["id"] and letter.event_type == "application.submitted"
    assert letter.task == "review.handle_event" and letter.attempts == MAX_RETRIES + 1
    assert "CheckViolation" in letter.error and "h5_block" in letter.error
    assert "Ana" not in letter.error  # the statement's parameters stay out of it
    assert json.loads(letter.body) == event
    assert review_sql.execute(text("SELECT count(*) FROM applications")).scalar() == 0
    assert review_sql.execute(text("SELECT count(*) FROM inbox")).scalar() == 0

    listed = command("review", "dead-letters")
    assert listed.returncode == 0, listed.stderr
    assert f"{letter.id}\tapplication.submitted\t{event['id']}" in listed.stdout
    assert "1 open dead letter(s)" in listed.stdout

    still_broken = command("review", "dead-letters", "--replay")
    assert still_broken.returncode == 1 and f"{letter.id}\tfailed" in still_broken.stdout
    [letter] = open_letters(review_sql)
    assert letter.attempts == MAX_RETRIES + 2

    review_sql.execute(text("ALTER TABLE applications DROP CONSTRAINT h5_block"))  # the cause fixed
    replayed = command("review", "dead-letters", "--replay")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "replayed 1 of 1 dead letter(s)" in replayed.stdout
    assert open_letters(review_sql) == []
    assert review_sql.execute(text("SELECT outcome FROM dead_letters")).scalar() == "replayed"
    row = review_sql.execute(text("SELECT status, updated_at FROM applications WHERE reference = 'NIP27-BLOCK1'")).one()
    assert row.status == "submitted"
    assert review_sql.execute(text("SELECT count(*) FROM inbox")).scalar() == 1

    again = command("review", "dead-letters", "--replay")
    assert again.returncode == 0 and "replayed 0 of 0 dead letter(s)" in again.stdout
    by_id = command("review", "dead-letters", "--replay", str(letter.id))
    assert by_id.returncode == 1 and f"{letter.id}\tnot open" in by_id.stdout
    # the original arriving late changes nothing either: the inbox has it
    assert handle_event.apply(args=[event]).get() is False
    assert review_sql.execute(text("SELECT updated_at FROM applications")).scalar() == row.updated_at
    assert review_sql.execute(text("SELECT count(*) FROM application_departments")).scalar() == 1


def test_an_invalid_event_is_dead_lettered_at_once_not_dropped(review, review_sql, command):
    bad = submitted("NIP27-BAD001")
    bad["data"]["departments"] = []
    sign_event(bad)  # signed again after the change, as its producer would have

    assert handle_event.apply(args=[bad]).get() is False
    assert handle_event.apply(args=["not an envelope"]).get() is False

    first, second = open_letters(review_sql)
    assert first.event_id == bad["id"] and first.attempts == 1  # never retried: it cannot become valid
    assert first.error.startswith("ValidationError") and "departments" in first.error
    assert second.event_id is None and json.loads(second.body) == "not an envelope"
    assert review_sql.execute(text("SELECT count(*) FROM applications")).scalar() == 0

    # it will never apply: staff close it without applying it, and only open ones can be closed
    discarded = command("review", "dead-letters", "--discard", str(first.id), str(first.id + 1000))
    assert discarded.returncode == 1, discarded.stderr
    assert f"{first.id}\tdiscarded" in discarded.stdout and f"{first.id + 1000}\tnot open" in discarded.stdout
    assert [letter.id for letter in open_letters(review_sql)] == [second.id]
    assert review_sql.execute(text("SELECT outcome FROM dead_letters WHERE id = :i"), {"i": first.id}).scalar() \
        == "discarded"
    assert command("review", "dead-letters", "--discard", str(first.id)).returncode == 1


def test_the_same_event_failing_again_updates_its_open_dead_letter(review, review_sql):
    bad = submitted("NIP27-BAD002")
    bad["data"]["departments"] = []
    sign_event(bad)  # signed again after the change, as its producer would have
    handle_event.apply(args=[bad])
    handle_event.apply(args=[bad])
    [letter] = open_letters(review_sql)
    assert letter.attempts == 2 and letter.last_failed_at >= letter.first_failed_at


def test_staff_see_dead_letters_only_as_admins_and_on_metrics(review, review_sql):
    bad = status_changed("NIP27-BAD003", "under_review")
    bad["data"]["language"] = "xx"
    sign_event(bad)  # signed again after the change, as its producer would have
    handle_event.apply(args=[bad])
    client = review.test_client()

    assert client.get("/api/v1/dead-letters").status_code == 401
    assert client.get("/api/v1/dead-letters", headers={"Authorization": "Bearer forged"}).status_code == 401
    reviewer = bearer(review, "reviewer@example.org", "reviewer")
    assert client.get("/api/v1/dead-letters", headers=reviewer).status_code == 403
    admin = bearer(review, "admin@example.org", "admin")
    body = client.get("/api/v1/dead-letters", headers=admin).get_json()
    assert body["count"] == 1 and body["items"][0]["event_id"] == bad["id"]
    assert body["items"][0]["event_type"] == "application.status_changed"
    assert "body" not in body["items"][0]  # the envelope carries personal data; the API does not need it
    bad_filter = client.get("/api/v1/dead-letters?include=everything", headers=admin)
    assert bad_filter.status_code == 400 and bad_filter.get_json()["error"]["fields"] == {
        "include": ["Must be one of: open, all."]}

    metrics = client.get("/metrics", headers={"Authorization": f"Bearer {client.application.config['SETTINGS'].metrics_token}"}).get_data(as_text=True)
    assert 'events_dead_lettered_total{event_type="application.status_changed",service="review"} 1.0' in metrics
    assert 'events_dead_letters_open{event_type="application.status_changed",service="review"} 1.0' in metrics

    review_sql.execute(text("UPDATE dead_letters SET replayed_at = now()"))
    replayed = client.get("/api/v1/dead-letters?include=all", headers=admin).get_json()
    assert replayed["count"] == 1 and replayed["items"][0]["replayed_at"] is not None
    assert client.get("/api/v1/dead-letters", headers=admin).get_json()["count"] == 0
    metrics = client.get("/metrics", headers={"Authorization": f"Bearer {client.application.config['SETTINGS'].metrics_token}"}).get_data(as_text=True)
    assert 'events_dead_letters_open{event_type="application.status_changed",service="review"} 0.0' in metrics


def test_notify_dead_letters_an_invalid_event_instead_of_dropping_it(bus_settings, databases):
    from services.notify import create_app
    from services.notify.db import db as notify_db

    app = create_app(bus_settings)
    bad = status_changed("NIP27-BAD004", "under_review")
    bad["data"]["email"] = "not an address"
    sign_event(bad)  # signed again after the change, as its producer would have
    with app.app_context():
        assert notify_handle_event.apply(args=[bad]).get() is False
    notify_db.session.remove()
    engine = create_engine(databases["notify"])
    with engine.connect() as conn:
        [letter] = conn.execute(text("SELECT * FROM dead_letters")).all()
        assert conn.execute(text("SELECT count(*) FROM deliveries")).scalar() == 0
    engine.dispose()
    notify_db.engine.dispose()
    assert letter.event_id == bad["id"] and letter.task == "notify.handle_event" and "email" in letter.error


def test_a_forged_event_is_dead_lettered_and_a_replay_verifies_it_again(review, review_sql, command):
    forged = submitted("NIP27-FORGED")
    forged["data"]["applicant"]["family_name"] = "Mallory"  # changed after it was signed
    unsigned = {key: value for key, value in submitted("NIP27-UNSIGNED").items() if key != "signature"}

    assert handle_event.apply(args=[forged]).get() is False
    assert handle_event.apply(args=[unsigned]).get() is False

    first, second = open_letters(review_sql)
    assert first.event_id == forged["id"] and "bad signature for producer intake" in first.error
    assert second.event_id == unsigned["id"] and "unsigned event" in second.error
    replayed = command("review", "dead-letters", "--replay")
    assert replayed.returncode == 1 and "replayed 0 of 2 dead letter(s)" in replayed.stdout
    assert [letter.id for letter in open_letters(review_sql)] == [first.id, second.id]
    assert review_sql.execute(text("SELECT count(*) FROM applications")).scalar() == 0
    assert review_sql.execute(text("SELECT count(*) FROM inbox")).scalar() == 0
