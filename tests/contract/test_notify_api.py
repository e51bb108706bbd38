"""notify's `/openapi.json` held against notify's own answers: schemathesis, in-process, on PostgreSQL.

Each staff role (a token minted with the test signing key, as review mints them) and an anonymous caller get
every operation with positive and negative data, over a delivery log seeded so that the id routes are reached
(a failed email to resend, a pending, a sent and a never-rendered one, a staff digest; departments and an
assignment so that coordinators and reviewers see their part). Every answer must be what the spec says (status,
content type, body), never a 5xx; input outside the spec must be refused with a 4xx; an operation that needs the
token must refuse a request without it. Then the stateful phase follows the spec's links (the log, then a resend
of its first email). Seeded and bounded: the same cases every run. A failure prints the case with a `curl` line.

A resend only queues the email: the broker is the test's own folder and no worker runs, so nothing is mailed.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import schemathesis
from schemathesis import engine
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events
from sqlalchemy import insert

from services.notify import create_app
from services.notify.db import db
from services.notify.deliveries.models import APPLICANT, FAILED, PENDING, SENT, STAFF, Delivery
from services.notify.mailcatcher import free_port
from services.notify.staff.models import ApplicationDepartment, Assignment
from shared.auth import StaffIdentity, issue_staff_token
from shared.db import utcnow
from tests.conftest import migrated_database, rolled_back
from tests.servers import serving

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "negative_data_rejection", "ignored_auth")
# every refusal notify documents (405: a method the route does not serve)
REFUSALS = ["400", "401", "403", "404", "405", "409", "422"]
# per operation and phase; the coverage phase adds its own boundary cases (a few dozen per operation)
MAX_EXAMPLES = 20

ROLES = {
    "admin": StaffIdentity(1, "office@example.org", "admin", ()),
    "coordinator": StaffIdentity(2, "coordinator@example.org", "coordinator", ("ACO",)),
    "reviewer": StaffIdentity(7, "reviewer@example.org", "reviewer", ()),
}
# the seeded log: (id, reference, kind, template, state, rendered); ids fixed so that every run reaches the same rows
FAILED_ID, UNRENDERED_ID = 1, 4
DELIVERIES = [
    (FAILED_ID, "NIP27-AAAAAA", APPLICANT, "submitted", FAILED, True),
    (2, "NIP27-AAAAAA", APPLICANT, "shortlisted", PENDING, True),
    (3, "NIP27-BBBBBB", APPLICANT, "submitted", SENT, True),
    (UNRENDERED_ID, "NIP27-BBBBBB", APPLICANT, "reserve", FAILED, False),
    (5, None, STAFF, "digest", SENT, True),
]


@pytest.fixture(scope="module")
def contract_database_url():
    return migrated_database("notify", "_contract")


@pytest.fixture
def notify(settings, contract_database_url):
    """notify on its own PostgreSQL database with the seeded log; its broker a folder of the test's, no SMTP."""
    settings = dataclasses.replace(settings, notify_database_url=contract_database_url, broker_url="filesystem://",
                                   smtp_host="127.0.0.1", smtp_port=free_port(), intake_url="http://intake.test")
    app = create_app(settings)
    app.config["TESTING"] = True
    with rolled_back(db), app.app_context():
        seed_log(db.session)
        db.session.commit()
        yield app


def seed_log(session) -> None:
    now = utcnow()
    for number, (id_, reference, kind, template, state, rendered) in enumerate(DELIVERIES):
        session.execute(insert(Delivery.__table__), {
            "id": id_, "event_id": f"00000000-0000-4000-8000-{number:012d}", "reference": reference, "kind": kind,
            "transition": template, "language": "en", "template": f"{template}/en",
            "recipient": f"person{number}@example.org", "subject": "Your application" if rendered else "",
            "body_text": "Dear applicant" if rendered else "", "body_html": "<p>Dear applicant</p>" if rendered else "",
            "state": state, "attempts": 8 if state == FAILED else 1, "created_at": now - timedelta(minutes=number),
            "last_error": "550 5.1.1 Mailbox does not exist" if state == FAILED else None,
            "sent_at": now if state == SENT else None, "next_attempt_at": now if state == PENDING else None})
    session.add_all([ApplicationDepartment(reference="NIP27-AAAAAA", department="ACO"),
                     ApplicationDepartment(reference="NIP27-BBBBBB", department="JFC"),
                     Assignment(event_id="00000000-0000-4000-9000-000000000001", reference="NIP27-BBBBBB",
                                reviewer_id=ROLES["reviewer"].user_id, reviewer_email=ROLES["reviewer"].email,
                                language="en", assigned_at=now)])
    session.flush()


def contract_config(headers: dict | None = None) -> SchemathesisConfig:
    """Every check that applies, with notify's refusals counted as refusals; every phase; deterministic."""
    checks = {name: {"enabled": True} for name in CHECKS}
    checks["negative_data_rejection"] = {"enabled": True, "expected-statuses": REFUSALS}
    return SchemathesisConfig.from_dict({
        "seed": 27,
        # nothing carried over from an earlier run: the same cases every time
        "cache": {"enabled": False},
        "headers": headers or {},
        "continue-on-failure": True,
        "generation": {"mode": "all", "deterministic": True, "database": "none", "max-examples": MAX_EXAMPLES},
        "checks": {"enabled": False, **checks},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True},
                   "stateful": {"enabled": True}},
    })


def token_headers(signing_key: str, role: str) -> dict[str, str]:
    """A staff access token as review mints it, signed with the test run's staff signing key."""
    token = issue_staff_token(signing_key, ROLES[role])
    return {"Authorization": f"Bearer {token}"}


@dataclasses.dataclass
class Run:
    """What one schemathesis run did: its answers by operation and status, its failures, each with a replay."""

    answers: Counter = dataclasses.field(default_factory=Counter)
    failures: list[str] = dataclasses.field(default_factory=list)
    phases: set[str] = dataclasses.field(default_factory=set)

    def record(self, recorder) -> None:
        for interaction in recorder.interactions.values():
            if interaction.response is not None:
                self.answers[_label(interaction), interaction.response.status_code] += 1
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.status == Status.FAILURE and check.failure_info is not None:
                    failure = check.failure_info.failure
                    self.failures.append(f"{failure.title} ({check.name}): {failure.message}\n"
                                         f"{check.failure_info.code_sample}")


def _label(interaction) -> str:
    return f"{interaction.request.method} {urlsplit(interaction.request.uri).path}"


# Over loopback HTTP rather than schemathesis' WSGI transport: in 4.32.5 the engine's `ignored_auth` probe hands
# the WSGI transport the socket settings (`max_redirects`) that werkzeug's test client refuses, a TypeError on
# every authorized 2xx (schemathesis/transport/wsgi.py drops them only for a requests session).
def run_schemathesis(url: str, role: str | None, signing_key: str) -> Run:
    """Every phase against the app at `url` as `role` (None: no token)."""
    headers = token_headers(signing_key, role) if role else None
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=contract_config(headers))
    run = Run()
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.PhaseStarted):
            run.phases.add(event.phase.name.value)
        elif isinstance(event, events.ScenarioFinished):
            run.record(event.recorder)
        elif isinstance(event, events.NonFatalError):
            run.failures.append(f"error in {event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return run


RUNS: dict[str | None, Run] = {}


@pytest.mark.parametrize("role", [None, "admin", "coordinator", "reviewer"],
                         ids=["anonymous", "admin", "coordinator", "reviewer"])
def test_every_answer_is_the_one_the_spec_documents(notify, role):
    with serving(notify, threaded=False, quiet=True) as url:
        run = RUNS[role] = run_schemathesis(url, role, notify.config["SETTINGS"].staff_signing_key)
    print(f"notify as {role or 'anonymous'}: {sum(run.answers.values())} requests, phases {sorted(run.phases)}")
    assert not run.failures, "\n\n".join(run.failures)
    assert sum(run.answers.values()) > 100


def test_the_runs_reached_every_answer_of_the_resend_route():
    """Guards the seeding and the links: without them the fuzzer would only ever meet unknown ids."""
    if len(RUNS) < 4:
        pytest.skip("the schemathesis runs did not all run in this session")
    resends = lambda role: {status for (label, status) in RUNS[role].answers  # noqa: E731
                            if label.startswith("POST /api/v1/notifications/")}
    assert {202, 404, 409, 422} <= resends("admin")
    assert 403 in resends("coordinator") and 403 in resends("reviewer")
    assert {status for (_, status) in RUNS[None].answers} <= {400, 401, 404, 405}
    assert "stateful" in RUNS["admin"].phases
