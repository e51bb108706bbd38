"""The open call is kept per process for a few seconds (it changes a few times a year and was read by every
submission); seeding it in the process takes effect at once, and the deadline is still checked per request."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from services.intake.db import db
from services.intake.programme import service as programme
from shared.db import utcnow
from tests.factories import application_payload, make_pdf, multipart


def statements_during(action) -> list[str]:
    seen: list[str] = []
    engine = db.session.get_bind().engine
    listener = lambda _conn, _cursor, statement, *_: seen.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return seen


def submit(client, n: int):
    return client.post("/api/v1/applications", content_type="multipart/form-data", data=multipart(
        application_payload(email=f"cache{n}@example.org", given_name=f"Cache{n}"),
        cv=make_pdf("Curriculum vitae"), academic_proof=make_pdf("Certificate of enrolment")))


def test_a_second_submission_does_not_read_the_call_again(client):
    assert submit(client, 1).status_code == 201
    statements = statements_during(lambda: submit(client, 2))
    assert not [s for s in statements if "FROM calls" in s], statements
    assert any("INSERT INTO applications" in s for s in statements)


def test_the_deadline_is_checked_on_every_request_even_with_the_call_cached(client, session, call):
    assert submit(client, 3).status_code == 201
    cached = next(iter(programme._cached.values()))[1]
    cached.deadline = utcnow() - timedelta(minutes=1)  # as if the clock had passed the cached deadline
    response = submit(client, 4)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "call_closed"


def test_seeding_the_call_in_this_process_is_seen_at_once(client, session, call, settings):
    assert submit(client, 5).status_code == 201
    programme.seed_call(session=session, deadline=utcnow() - timedelta(days=1))
    session.commit()
    response = submit(client, 6)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "call_closed"
