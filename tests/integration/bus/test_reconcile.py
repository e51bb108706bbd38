"""Reconciliation repairs what lost events left behind, from intake's truth, and only once."""
from __future__ import annotations

import dataclasses
import json
import threading
from email import policy
from email.parser import BytesParser
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, select, text
from werkzeug.serving import make_server

from services import intake, notify, review
from services.intake.applications.tasks import check_application
from services.intake.db import OUTBOX, db as intake_db
from services.intake.dossier.tasks import render_dossier_task
from services.intake.programme.service import seed_call
from services.notify.db import db as notify_db
from services.notify.deliveries.tasks import handle_event as notify_handle_event
from services.notify.mailcatcher import MailCatcher, free_port
from services.review.applications.tasks import handle_event as review_handle_event
from services.review.db import db as review_db
from shared.bus.relay import task_arguments
from tests.factories import application_payload, make_pdf, multipart


@pytest.fixture
def stack(bus_settings):
    """intake served over HTTP on loopback, review and notify apps, a real SMTP server."""
    port, smtp_port = free_port(), free_port()
    settings = dataclasses.replace(bus_settings, broker_url="filesystem://", smtp_host="127.0.0.1",
                                   smtp_port=smtp_port, intake_url=f"http://127.0.0.1:{port}")
    apps = SimpleNamespace(intake=intake.create_app(settings), review=review.create_app(settings, first_admin=False),
                           notify=notify.create_app(settings), settings=settings)
    with apps.intake.app_context():
        seed_call(session=intake_db.session, deadline=settings.call_deadline)
        intake_db.session.commit()
    server = make_server("127.0.0.1", port, apps.intake, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    mail = MailCatcher(settings.mail_dir, port=smtp_port).start()
    apps.engines = {name: create_engine(settings.database_url(name), isolation_level="AUTOCOMMIT")
                    for name in ("intake", "review", "notify")}
    try:
        yield apps
    finally:
        server.shutdown()
        thread.join(10)
        mail.stop()
        for engine in apps.engines.values():
            engine.dispose()
        for database in (intake_db, review_db, notify_db):
            database.session.remove()
            database.engine.dispose()


def pump(apps, *, lose=lambda task, envelope: False) -> None:
    """The relay and the workers, in-process: run every unsent outbox task until none is left.

    `lose(task, envelope)` says which deliveries the test loses on the way.
    """
    runners = {
        "intake.check_application": (apps.intake, check_application.run),
        "intake.render_dossier": (apps.intake, render_dossier_task.run),
        "review.handle_event": (apps.review, review_handle_event.run),
        "notify.handle_event": (apps.notify, notify_handle_event.run),
    }
    while True:
        with apps.engines["intake"].connect() as conn:
            rows = conn.execute(text("SELECT id, task, body, event_id FROM outbox WHERE sent_at IS NULL ORDER BY id")).all()
            conn.execute(text("UPDATE outbox SET sent_at = now() WHERE sent_at IS NULL"))
        if not rows:
            return
        for row in rows:
            args, _ = task_arguments(row)
            if row.task in ("review.handle_event", "notify.handle_event") and lose(row.task, args[0]):
                continue
            app, run = runners[row.task]
            with app.app_context():
                run(*args)


def submit(apps, email: str) -> str:
    response = apps.intake.test_client().post(
        "/api/v1/applications", content_type="multipart/form-data",
        data=multipart(application_payload(email=email, given_name=email.split("@")[0].title()),
                       cv=make_pdf("CV", pages=1),
                       academic_proof=make_pdf("Proof", pages=1)))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["reference"]


def emails(apps) -> list:
    folder = apps.settings.mail_dir
    return [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]


def review_rows(apps) -> dict:
    with apps.engines["review"].connect() as conn:
        rows = conn.execute(text("SELECT reference, status, dossier_key, dossier_pages, dossier_sha256, checked_at "
                                 "FROM applications")).all()
        departments = conn.execute(text("SELECT reference, department FROM application_departments "
                                        "ORDER BY reference, rank")).all()
    return {r.reference: (r, [d.department for d in departments if d.reference == r.reference]) for r in rows}


def intake_truth(apps) -> dict:
    with apps.engines["intake"].connect() as conn:
        rows = conn.execute(text("SELECT reference, status, dossier_key, dossier_pages, dossier_sha256, "
                                 "departments FROM applications")).all()
    return {r.reference: r for r in rows}


def test_reconcile_repairs_review_and_notify_from_intake_once_and_never_sends_twice(stack, command):
    first, second, third = (submit(stack, f"{name}@example.org") for name in ("ana", "ben", "cleo"))
    under_review_of_first = []

    def lose(task, envelope):
        if task == "review.handle_event":
            return envelope["data"]["reference"] == third  # review never heard of the third
        if envelope["data"]["reference"] == first and envelope["data"]["new"] == "under_review":
            under_review_of_first.append(envelope["id"])
            return True  # notify missed one status change
        return False

    pump(stack, lose=lose)
    truth = intake_truth(stack)
    assert {r.status for r in truth.values()} == {"under_review"} and all(r.dossier_key for r in truth.values())
    assert len(emails(stack)) == 5
    # and review lost more: one row deleted, one status stale, one dossier forgotten
    with stack.engines["review"].connect() as conn:
        conn.execute(text("DELETE FROM applications WHERE reference = :r"), {"r": first})
        conn.execute(text("UPDATE applications SET status = 'submitted', dossier_key = NULL WHERE reference = :r"),
                     {"r": second})
    assert set(review_rows(stack)) == {second}

    env = {"INTAKE_URL": stack.settings.intake_url, "SMTP_HOST": "127.0.0.1",
           "SMTP_PORT": str(stack.settings.smtp_port), "MAIL_DIR": str(stack.settings.mail_dir)}
    repaired = command("review", "reconcile", "--settle", "0", extra_env=env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert f"reconciled: 3 checked, 3 repaired ({', '.join(sorted([first, second, third]))})" in repaired.stdout

    rows = review_rows(stack)
    assert set(rows) == {first, second, third}
    for reference, (row, departments) in rows.items():
        owner = intake_truth(stack)[reference]
        assert row.status == "under_review" and row.checked_at is not None
        assert (row.dossier_key, row.dossier_pages, row.dossier_sha256) == (
            owner.dossier_key, owner.dossier_pages, owner.dossier_sha256)
        assert departments == list(owner.departments)

    again = command("review", "reconcile", "--settle", "0", extra_env=env)
    assert again.returncode == 0 and "reconciled: 3 checked, 0 repaired" in again.stdout

    notified = command("notify", "reconcile", "--settle", "0", extra_env=env)
    assert notified.returncode == 0, notified.stdout + notified.stderr
    assert f"reconciled: 6 checked, 1 repaired ({first}:{under_review_of_first[0]})" in notified.stdout
    messages = emails(stack)
    assert len(messages) == 6
    assert messages[-1]["To"] == "ana@example.org" and first in messages[-1]["Subject"]

    # the lost message turning up late, and a second run, send nothing more
    with stack.notify.app_context():
        with stack.engines["intake"].connect() as conn:
            body = conn.execute(text("SELECT body FROM outbox WHERE event_id = :e AND task = 'notify.handle_event'"),
                                {"e": under_review_of_first[0]}).scalar()
        notify_handle_event.run(json.loads(body)[0])
    assert "reconciled: 6 checked, 0 repaired" in command("notify", "reconcile", "--settle", "0",
                                                          extra_env=env).stdout
    assert len(emails(stack)) == 6


def test_recently_changed_applications_are_left_to_their_events_in_flight(stack, command):
    submit(stack, "dora@example.org")
    pump(stack, lose=lambda task, envelope: task == "review.handle_event")
    result = command("review", "reconcile", extra_env={"INTAKE_URL": stack.settings.intake_url})
    assert result.returncode == 0 and "reconciled: 0 checked, 0 repaired" in result.stdout
    assert review_rows(stack) == {}


def test_the_sync_api_answers_only_its_own_key(stack):
    client = stack.intake.test_client()
    url = "/internal/v1/applications"
    assert client.get(url).status_code == 401
    for wrong in ("Bearer nope", f"Bearer {stack.settings.intake_secret_key}",
                  f"Bearer {stack.settings.applicant_token_key}", f"Basic {stack.settings.sync_api_key}",
                  f"Bearer {stack.settings.sync_api_key}x"):
        response = client.get(url, headers={"Authorization": wrong})
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    key = {"Authorization": f"Bearer {stack.settings.sync_api_key}"}
    assert client.get(url, headers=key).get_json() == {"items": [], "next": None}
    assert client.post(url, headers=key).status_code == 405  # read-only
    bad = client.get(f"{url}?limit=100000", headers=key)
    assert bad.status_code == 422 and "limit" in bad.get_json()["error"]["fields"]
    assert client.get("/internal/v1/events/nope", headers=key).status_code == 404


def test_the_sync_api_is_closed_when_no_key_is_configured(bus_settings):
    app = intake.create_app(dataclasses.replace(bus_settings, sync_api_key=None))
    client = app.test_client()
    for header in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer None"}):
        assert client.get("/internal/v1/applications", headers=header).status_code == 401
    intake_db.engine.dispose()


def test_sync_api_pages_through_applications_in_reference_order(stack):
    references = sorted(submit(stack, f"p{n}@example.org") for n in range(3))
    pump(stack)
    client = stack.intake.test_client()
    key = {"Authorization": f"Bearer {stack.settings.sync_api_key}"}
    seen, after = [], ""
    while True:
        body = client.get(f"/internal/v1/applications?limit=2&after={after}", headers=key).get_json()
        seen += body["items"]
        if not body["next"]:
            break
        after = body["next"]
    assert [item["reference"] for item in seen] == references
    item = seen[0]
    assert item["status"] == "under_review" and item["checked"] is True and item["dossier"]["pages"] >= 1
    assert [e["type"] for e in item["events"]] == ["application.status_changed", "application.submitted",
                                                   "application.checked", "application.status_changed",
                                                   "dossier.rendered"]
    envelope = client.get(f"/internal/v1/events/{item['events'][-1]['id']}", headers=key).get_json()
    assert envelope["type"] == "dossier.rendered" and envelope["data"]["reference"] == item["reference"]
    # a status change is served without the email's single-use link, and an access link's event not at all
    changed = client.get(f"/internal/v1/events/{item['events'][0]['id']}", headers=key).get_json()
    assert changed["type"] == "application.status_changed" and changed["data"]["new"] == "submitted"
    assert "link" not in changed["data"] and "link_expires_at" not in changed["data"]
    asked = client.post("/api/v1/access-links", json={"email": "p0@example.org"})
    assert asked.status_code == 202
    asked.close()  # the lookup and the email come after the answer
    with stack.intake.app_context():
        access = intake_db.session.scalar(select(OUTBOX.c.event_id).where(
            OUTBOX.c.event_type == "application.access_requested"))
        intake_db.session.remove()
    assert access is not None
    assert client.get(f"/internal/v1/events/{access}", headers=key).status_code == 404


def test_the_sync_api_finds_each_application_s_events_in_embedded_mode_too(settings):
    """SQLite (`make run`) reads JSON differently from PostgreSQL: the same answers."""
    from shared.migrate import upgrade

    settings = dataclasses.replace(settings, sync_api_key=stack_key())
    upgrade("intake", settings.intake_database_url)
    app = intake.create_app(settings)
    with app.app_context():
        seed_call(session=intake_db.session, deadline=settings.call_deadline)
        intake_db.session.commit()
    apps = SimpleNamespace(intake=app)
    reference = submit(apps, "emma@example.org")
    body = app.test_client().get("/internal/v1/applications",
                                 headers={"Authorization": f"Bearer {settings.sync_api_key}"}).get_json()
    [item] = body["items"]
    assert item["reference"] == reference and item["status"] == "submitted"
    assert sorted(e["type"] for e in item["events"]) == ["application.status_changed", "application.submitted"]
    intake_db.session.remove()
    intake_db.engine.dispose()


def stack_key() -> str:
    import secrets

    return "test-sync-" + secrets.token_urlsafe(32)


def test_reconciliation_verifies_what_intakes_sync_api_serves(stack, command):
    """An event in intake's outbox that does not verify (tampered, or unsigned) is refused, and the run goes on."""
    forged, genuine = (submit(stack, f"{name}@example.org") for name in ("dora", "emil"))
    pump(stack, lose=lambda task, envelope: task == "review.handle_event")  # review heard of neither
    with stack.engines["intake"].connect() as conn:
        rows = conn.execute(text("SELECT id, body FROM outbox WHERE event_type = 'application.submitted' "
                                 "AND task = 'review.handle_event'")).all()
        for row in rows:
            envelope = json.loads(row.body)[0]
            if envelope["data"]["reference"] == forged:
                envelope["data"]["applicant"]["family_name"] = "Mallory"  # changed after it was signed
                conn.execute(text("UPDATE outbox SET body = :b WHERE id = :i"),
                             {"b": json.dumps([envelope]), "i": row.id})

    env = {"INTAKE_URL": stack.settings.intake_url}
    result = command("review", "reconcile", "--settle", "0", extra_env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"2 checked, 1 repaired ({genuine}); still different: {forged}" in result.stdout
    assert set(review_rows(stack)) == {genuine}
    assert "reconciliation refused an event" in result.stderr + result.stdout
