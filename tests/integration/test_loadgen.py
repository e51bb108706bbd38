"""The load generator against a real intake (PostgreSQL) served over HTTP in this process."""
from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import select, update
from werkzeug.serving import make_server

from loadgen import submit
from loadgen.cli import main
from loadgen.generate import INCOMPLETE_CODES
from services.intake import create_app
from services.intake.applications.models import Application
from services.intake.db import db
from services.intake.programme.models import Call
from services.intake.programme.service import seed_call
from services.notify.mailcatcher import free_port
from tests.conftest import migrated_database


class LoseFirstResponse:
    """WSGI middleware: the application handles each first attempt fully, then the client gets a 503.

    It plays a proxy that drops the answer after the work is committed, the case where a careless retry
    would create a second application.
    """

    def __init__(self, app):
        self.app, self.seen, self.lock = app, set(), threading.Lock()

    def __call__(self, environ, start_response):
        key = environ.get("HTTP_IDEMPOTENCY_KEY")
        if environ["REQUEST_METHOD"] != "POST" or key is None:
            return self.app(environ, start_response)
        with self.lock:
            first = key not in self.seen
            self.seen.add(key)
        if not first:
            return self.app(environ, start_response)
        body = b"".join(self.app(environ, lambda *args, **kwargs: None))
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"lost on the way back" if body else b""]


@pytest.fixture
def intake(settings):
    """intake on a free loopback port with its own migrated database and the open call."""
    app = create_app(dataclasses.replace(settings, intake_database_url=migrated_database("intake", "_loadgen")))
    with app.app_context():
        seed_call(session=db.session, deadline=settings.call_deadline)
        db.session.commit()
        db.session.remove()
    servers = []

    def serve(wsgi_app=None) -> str:
        server = make_server("127.0.0.1", 0, wsgi_app or app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield app, serve
    for server in servers:
        server.shutdown()


def stored_applications(app) -> list[Application]:
    with app.app_context():
        try:
            return list(db.session.scalars(select(Application)))
        finally:
            db.session.remove()


def test_ten_applications_are_accepted_or_refused_as_planned(intake):
    app, serve = intake
    summary = submit(serve(), count=10, concurrency=3, ineligible_share=0.2, incomplete_share=0.2, seed=7,
                     doc_size=24 * 1024)

    assert summary.sent == 10 and summary.ok, (summary.refused, summary.unexpected)
    assert len(summary.accepted) == 8
    assert sum(summary.refused.values()) == 2 and set(summary.refused) <= INCOMPLETE_CODES
    assert sorted(s.expected for s in summary.accepted) == ["ineligible"] * 2 + ["under_review"] * 6
    assert summary.seconds > 0 and summary.rate == pytest.approx(10 / summary.seconds)
    stored = stored_applications(app)
    assert sorted(a.reference for a in stored) == sorted(s.reference for s in summary.accepted)
    assert len({a.email_normalized for a in stored}) == 8
    assert {a.status for a in stored} == {"submitted"}  # no worker in this test: the check has not run
    assert any(any(not c.isascii() for c in a.given_name + a.family_name) for a in stored)


def test_each_accepted_application_is_readable_with_its_token(intake):
    app, serve = intake
    url = serve()
    summary = submit(url, count=3, concurrency=2, ineligible_share=0, incomplete_share=0, seed=3, doc_size=20 * 1024)

    for accepted in summary.accepted:
        answer = requests.get(f"{url}/api/v1/applications/{accepted.reference}",
                              headers={"Authorization": f"Bearer {accepted.token}"}, timeout=10)
        assert answer.status_code == 200 and answer.json()["status"] == "submitted"
        assert {d["kind"] for d in answer.json()["documents"]} >= {"cv", "academic_proof"}


def test_a_lost_answer_is_retried_with_the_same_key_and_never_duplicates(intake):
    app, serve = intake
    summary = submit(serve(LoseFirstResponse(app)), count=6, concurrency=2, ineligible_share=0, incomplete_share=0,
                     seed=5, retries=2, doc_size=20 * 1024)

    assert summary.ok and summary.retries == 6
    assert len(summary.accepted) == 6
    assert len(stored_applications(app)) == 6


def test_an_unreachable_intake_is_reported_not_hidden():
    with pytest.raises(requests.ConnectionError):
        submit(f"http://127.0.0.1:{free_port()}", count=1, retries=0, timeout=2)


def test_the_command_prints_a_summary_and_exits_0_when_all_went_as_planned(intake, capsys):
    app, serve = intake
    code = main(["--url", serve(), "-n", "5", "-c", "2", "--ineligible", "0.2", "--incomplete", "0.2", "--seed", "1",
                 "--doc-kb", "20", "--quiet"])

    out = capsys.readouterr().out
    assert code == 0
    assert "sent" in out and "accepted" in out and "rate (applications/s)" in out
    assert ("invalid_fields" in out) or ("invalid_documents" in out)


def test_the_command_exits_1_when_intake_refuses_what_should_pass(intake, capsys):
    app, serve = intake
    with app.app_context():  # the deadline has passed: every submission is refused with call_closed
        db.session.execute(update(Call).values(deadline=datetime.now(timezone.utc) - timedelta(days=1)))
        db.session.commit()
        db.session.remove()

    code = main(["--url", serve(), "-n", "2", "--ineligible", "0", "--incomplete", "0", "--doc-kb", "20", "--quiet"])

    out = capsys.readouterr().out
    assert code == 1
    assert "call_closed" in out and "unexpected outcomes" in out
    assert stored_applications(app) == []


def test_the_command_exits_2_when_there_is_no_intake(capsys):
    assert main(["--url", f"http://127.0.0.1:{free_port()}", "-n", "1", "--retries", "0", "--quiet"]) == 2
    assert "cannot use intake" in capsys.readouterr().err
