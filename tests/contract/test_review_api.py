"""Review's `/openapi.json` checked by schemathesis, in process (WSGI), on a real PostgreSQL database.

Every operation of the spec gets the examples, coverage and fuzzing phases (positive and negative data),
and each generated case is sent as the admin, a coordinator, a reviewer and anonymously, with the checks
`not_a_server_error`, `status_code_conformance`, `content_type_conformance`, `response_schema_conformance`,
`negative_data_rejection` and `ignored_auth`. Each case runs in a transaction rolled back after it, on data
seeded once (users, applications under review, an assignment), so every case sees the same database and a
run is the same run every time: hypothesis is derandomized, without deadline or example database.

The stateful phase then follows the spec's OpenAPI links (the list's first reference to the application, its
reviews, assignments, decision, proposal and dossier; a user created or listed to its change and unlock), so
it chains real calls: while it runs, the requests of the phase share one transaction, rolled back when the phase
ends, so that what a step creates or changes is there for the next step (a user created, then changed), and the
next role still starts from the seeded data. Each role's run prints its stateful steps and linked calls, and the
admin's and the coordinator's must have followed links.

Intake is not running: the routes that ask it (erasure, export, statistics) answer their documented
`503 intake_unavailable`, which `not_a_server_error` is told to accept; any other 5xx fails.

The sign-in limit (`LOGIN_RATE_LIMIT`, 20 a minute per address) is lifted for this app only: every case
comes from the same test client, and the limit is `tests/integration/review/test_limits.py`'s subject,
not this file's. A failure prints the case and the code to replay it (schemathesis' report).
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timezone

import pytest
import schemathesis
from schemathesis import engine
from schemathesis.engine import events
from schemathesis.engine.run import PhaseName

from services.review import create_app
from services.review.accounts.service import create_user
from services.review.applications.tasks import handle_event
from services.review.db import db
from shared.config import Settings
from shared.events import make_event
from tests.conftest import TEST_KEYS, migrated_database, rolled_back
from tests.servers import serving

PASSWORD = "a long enough password"
USERS = {"admin": ("admin@example.org", "admin", []),
         "coordinator": ("coordinator@example.org", "coordinator", ["it"]),
         "reviewer": ("reviewer@example.org", "reviewer", ["it"])}
# known references, so that the routes behind one are reached, not only their 404
REFERENCES = ("NIP-2027-000001", "NIP-2027-000002", "NIP-2027-000003")
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "negative_data_rejection", "ignored_auth")
# small enough for the whole file to run in about a minute and a half on two busy cores
MAX_EXAMPLES = 12
# the stateful phase: per role, scenarios of at most STATEFUL_STEPS calls, each after the first along a link where
# one applies; a reviewer follows few links, an anonymous caller none (every answer a 401), so fewer for them
STATEFUL_SCENARIOS = {"admin": 40, "coordinator": 20, "reviewer": 12, "anonymous": 6}
STATEFUL_STEPS = 6
SUBMITTED_AT = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def _event(event_type: str, data: dict) -> dict:
    return make_event(event_type, data, producer="intake")


def _seed_application(reference: str, departments: list[str]) -> None:
    """An application submitted, checked and now under review, as intake's events make it."""
    handle_event(_event("application.submitted", {
        "reference": reference, "departments": departments, "submitted_at": SUBMITTED_AT,
        "applicant": {"given_name": "Ana", "family_name": "Petrova", "nationality": "BG",
                      "date_of_birth": date(2002, 5, 17), "session": "september",
                      "education": {"institution": "Sofia University", "degree_level": "master",
                                    "field_of_study": "Computer science", "status": "enrolled",
                                    "year_of_study": 4},
                      "languages": {"en": "C1", "fr": "B1"}, "correspondence_language": "en"}}))
    handle_event(_event("application.checked", {"reference": reference, "eligible": True, "complete": True,
                                                "problems": []}))
    handle_event(_event("application.status_changed", {
        "reference": reference, "old": "checking", "new": "under_review", "reason": None,
        "email": "ana@example.org", "name": "Ana Petrova", "language": "en"}))


@dataclasses.dataclass
class Stack:
    app: object
    headers: dict[str, dict[str, str]]  # per role; anonymous sends none
    user_ids: dict[str, int]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Stack:
    tmp = tmp_path_factory.mktemp("review-contract")
    base = Settings.from_env()
    review_settings = dataclasses.replace(
        base, var_dir=tmp, **TEST_KEYS, documents_dir=tmp / "documents", mail_dir=tmp / "mail",
        review_database_url=migrated_database("review", "_contract"),
        admin_email=None, admin_password=None, rate_limit_exempt="127.0.0.0/8",
        # nothing listens there: erasure, export and statistics are refused at once, as intake_unavailable
        intake_url="http://127.0.0.1:9", intake_sync_url=None)
    app = create_app(review_settings)
    app.config.update(TESTING=True, LOGIN_RATE_LIMIT="1000000 per minute")  # see the module's docstring
    user_ids = {}
    with app.app_context():
        for role, (email, kind, departments) in USERS.items():
            user = create_user(session=db.session, email=email, password=PASSWORD, role=kind,
                               departments=departments)
            db.session.commit()
            user_ids[role] = user.id
        for index, reference in enumerate(REFERENCES):
            _seed_application(reference, ["it"] if index < 2 else ["legal"])
        db.session.commit()
    client = app.test_client()
    headers = {"anonymous": {}}
    for role, (email, _, _) in USERS.items():
        response = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.get_json()
        headers[role] = {"Authorization": f"Bearer {response.get_json()['token']}"}
    return Stack(app=app, headers=headers, user_ids=user_ids)


class Isolated:
    """The app, each request in a transaction rolled back after it: every case meets the seeded data.

    Within `keeping_state()` (the stateful phase), the requests share one transaction instead, rolled back when
    it ends: a linked call finds what the call before it created or changed.
    """

    def __init__(self, app):
        self.app = app
        self.shared = False

    def __call__(self, environ, start_response):
        if self.shared:
            return list(self.app(environ, start_response))
        with rolled_back(db):
            # read the whole answer (the CSV streams) before the transaction goes
            return list(self.app(environ, start_response))

    @contextmanager
    def keeping_state(self):
        # entered between two requests: the engine yields `PhaseStarted` before it sends the phase's first one
        with rolled_back(db):
            self.shared = True
            try:
                yield
            finally:
                self.shared = False


def _config(*, headers: dict[str, str], user_ids: list[int], scenarios: int) -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": 27, "workers": 1, "headers": headers,
        "generation": {"deterministic": True, "max-examples": MAX_EXAMPLES, "database": "none"},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True},
                   "stateful": {"enabled": True, "max-steps": STATEFUL_STEPS,
                                "generation": {"max-examples": scenarios}}},
        "checks": {"enabled": False, **{check: {"enabled": True} for check in CHECKS},
                   # intake is not running: the privacy routes answer their documented 503 intake_unavailable
                   "not_a_server_error": {"enabled": True, "expected-statuses": ["2xx", "3xx", "4xx", "503"]}},
        # known references and user ids, so that the routes behind one are reached, not only their 404
        "dictionaries": {"references": {"values": list(REFERENCES)}, "user_ids": {"values": user_ids}},
        "parameters": {"path.reference": {"dictionary": "references", "probability": 0.7},
                       "path.user_id": {"dictionary": "user_ids", "probability": 0.7}},
    })


@dataclasses.dataclass
class Outcome:
    cases: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)
    stateful_steps: int = 0
    # the calls made along a link, by target operation and answer
    linked: Counter = dataclasses.field(default_factory=Counter)


@pytest.fixture(scope="module")
def served(stack):
    """The app on a loopback port, one request at a time, in this process.

    Not `from_wsgi`: schemathesis 4.32.5's `ignored_auth` probes hand the WSGI transport the socket options
    (`max_redirects`, `verify`, `cert`) it only strips for a network session, and werkzeug refuses them.
    """
    isolated = Isolated(stack.app)
    with serving(isolated, threaded=False, quiet=True) as url:
        yield url, isolated


def _run(url: str, isolated: Isolated, config: schemathesis.Config) -> Outcome:
    """One schemathesis run (every phase the config enables); its cases and each failure with its replay."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)
    outcome = Outcome()
    with ExitStack() as stateful:
        for event in engine.from_schema(schema).execute():
            if isinstance(event, events.PhaseStarted) and event.phase.name == PhaseName.STATEFUL_TESTING:
                stateful.enter_context(isolated.keeping_state())
            elif isinstance(event, events.PhaseFinished) and event.phase.name == PhaseName.STATEFUL_TESTING:
                stateful.close()
            _record(event, outcome)
    return outcome


def _record(event, outcome: Outcome) -> None:
    """Count the cases of a finished scenario (the stateful ones and their linked calls too) and its failures."""
    if isinstance(event, events.ScenarioFinished):
        outcome.cases += len(event.recorder.cases)
        if event.phase == PhaseName.STATEFUL_TESTING:
            outcome.stateful_steps += len(event.recorder.cases)
            for case_id, node in event.recorder.cases.items():
                interaction = event.recorder.interactions.get(case_id)
                if node.transition is not None and node.is_transition_applied and interaction is not None \
                        and interaction.response is not None:
                    outcome.linked[f"{node.value.operation.label} {interaction.response.status_code}"] += 1
        for checks in event.recorder.checks.values():
            for node in checks:
                if node.status == engine.Status.FAILURE and node.failure_info is not None:
                    failure = node.failure_info.failure
                    outcome.failures.append(f"{event.recorder.label}: {failure.title}\n{failure.message}\n"
                                            f"replay: {node.failure_info.code_sample}")
    elif isinstance(event, (events.NonFatalError, events.FatalError)):
        where = f"{getattr(event, 'phase', '')} {getattr(event, 'label', '')}"
        outcome.failures.append(f"error in {where}: {getattr(event, 'value', None) or event.exception!r}")


@pytest.mark.parametrize("role", ["admin", "coordinator", "reviewer", "anonymous"])
def test_review_api_answers_as_its_spec_says(stack, served, role):
    outcome = _run(*served, _config(headers=stack.headers[role], user_ids=[*stack.user_ids.values()],
                                          scenarios=STATEFUL_SCENARIOS[role]))
    linked = sum(outcome.linked.values())
    print(f"{role}: {outcome.cases} cases, {outcome.stateful_steps} stateful steps, {linked} linked calls, "
          f"{len(outcome.failures)} failures; linked: {dict(sorted(outcome.linked.items()))}")
    assert outcome.cases > 0
    assert outcome.stateful_steps > 0, "the stateful phase did not run"
    if role in ("admin", "coordinator"):  # the others see too little to follow a link far (anonymous: nothing)
        assert linked > 0, "the stateful phase followed no link"
    unique = sorted(set(outcome.failures))
    assert not unique, f"{len(unique)} failures as {role}:\n\n" + "\n\n".join(unique)
