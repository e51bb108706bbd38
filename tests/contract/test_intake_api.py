"""intake's `/openapi.json` held against intake's own answers: schemathesis, in-process, on PostgreSQL.

Anonymous callers get every operation with positive and negative data; the applicant (a real application
submitted first, its token) gets the operations behind its reference. Every case must be answered as the spec
says (status, content type, body), never with a 5xx; schema-violating input must be refused with a 4xx; an
operation that needs the token must refuse a request without it. Seeded and bounded: the same cases every run.
A failure prints the case with a `curl` line to replay it.
"""
from __future__ import annotations

import dataclasses

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.checks import not_a_server_error
from schemathesis.engine import Status, events
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                                status_code_conformance)

from services.intake import create_app
from services.intake.applications.models import Application
from services.intake.applications.service import applicant_token
from services.intake.applications.status import change_status
from services.intake.db import db
from services.intake.programme.service import seed_call
from services.review import create_app as create_review
from services.review.db import db as review_db
from shared.migrate import upgrade
from tests.conftest import migrated_database, rolled_back
from tests.factories import make_pdf, multipart
from tests.servers import serving

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "negative_data_rejection", "ignored_auth")
# every refusal intake documents; 410 (erased) and 413 (too large) are answers to bad input too
REFUSALS = ["400", "401", "404", "405", "409", "410", "413", "415", "422"]
# per operation and phase; ~1,200 cases in all, about 30 s on two busy cores
MAX_EXAMPLES = 40


def contract_config(*, without: tuple[str, ...] = (), stateful: bool = True, **extra) -> SchemathesisConfig:
    """Every check that applies, with intake's refusals counted as refusals; seeded, one worker, no time limit
    (`deterministic` is Hypothesis' `derandomize=True`; the engine always runs with `deadline=None`)."""
    checks = {name: {"enabled": name not in without} for name in CHECKS}
    checks["negative_data_rejection"]["expected-statuses"] = REFUSALS
    return SchemathesisConfig.from_dict({
        # nothing carried over from an earlier run: the same cases every time
        "seed": 27, "workers": 1, "cache": {"enabled": False},
        "generation": {"mode": "all", "deterministic": True, "database": "none", "max-examples": MAX_EXAMPLES},
        "checks": {"enabled": False, **checks},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True},
                   "stateful": {"enabled": stateful, "max-steps": 6}},
        **extra,
    })


@pytest.fixture(scope="module")
def contract_database_url():
    return migrated_database("intake", "_contract")


@pytest.fixture
def review_url(settings):
    """review's web app on loopback (SQLite), for the access log an export carries."""
    upgrade("review", settings.review_database_url)
    try:
        with serving(create_review(settings, first_admin=False)) as url:
            yield url
    finally:
        review_db.session.remove()
        review_db.engine.dispose()


@pytest.fixture
def intake(settings, contract_database_url, review_url):
    """intake on its own PostgreSQL database, every per-client and per-recipient limit lifted, the call open."""
    app = create_app(dataclasses.replace(settings, intake_database_url=contract_database_url,
                                         review_internal_url=review_url,
                                         rate_limit_exempt="0.0.0.0/0,::/0",
                                         access_link_recipient_limit="1000000 per hour"))
    app.config["TESTING"] = True
    with rolled_back(db), app.app_context():
        seed_call(session=db.session, deadline=settings.call_deadline)
        db.session.commit()
        yield app


@pytest.fixture
def anonymous(intake):
    return schemathesis.openapi.from_wsgi("/openapi.json", intake, config=contract_config())


@dataclasses.dataclass
class Applicant:
    reference: str
    token_key: str

    def headers(self) -> dict[str, str]:
        """The token as it stands now: withdrawal and sign-out-everywhere replace it."""
        version = db.session.query(Application.token_version).filter_by(reference=self.reference).scalar()
        return {"Authorization": f"Bearer {applicant_token(self.token_key, self.reference, version)}"}


@pytest.fixture
def applicant(intake, settings):
    """An application submitted through the API, then found incomplete, so that documents may be added."""
    response = intake.test_client().post("/api/v1/applications", data=multipart(
        cv=make_pdf("Curriculum vitae", pages=2), academic_proof=make_pdf("Certificate of enrolment")))
    assert response.status_code == 201, response.get_json()
    reference = response.get_json()["reference"]
    application = db.session.query(Application).filter_by(reference=reference).one()
    for step in ("checking", "incomplete"):
        change_status(session=db.session, application=application, new=step, actor="worker")
    db.session.commit()
    return Applicant(reference, settings.applicant_token_key)


@pytest.fixture
def as_applicant(intake, applicant):
    # schemathesis 4.32.5's ignored_auth probe passes socket options (max_redirects, verify) to werkzeug's
    # client when the engine drives a WSGI app, which fails; test_the_token_is_required runs that check instead
    config = contract_config(parameters={"path.reference": applicant.reference}, without=("ignored_auth",),
                             stateful=False)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", intake, config=config).include(
        path_regex=r"^/api/v1/applications/\{reference\}")

    @schema.auth(refresh_interval=None)
    class CurrentToken:
        def get(self, case, context):
            return applicant.headers()["Authorization"]

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), "Authorization": data}

    return schema


def run(schema) -> tuple[int, list[str]]:
    """Run every enabled phase; the number of cases sent and a description of each failure, to replay."""
    cases, failures = 0, []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            cases += len(recorder.cases)
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failures.append(f"[{event.phase.value}] {event.recorder.label} {check.name}: "
                                        f"{check.failure_info.failure.title}\n  {check.failure_info.code_sample}")
        elif isinstance(event, (events.FatalError, events.NonFatalError)):
            failures.append(f"{type(event).__name__}: {event.info.format()}")
    return cases, sorted(set(failures))


def test_anonymous_callers_get_what_the_spec_says(anonymous):
    cases, failures = run(anonymous)
    print(f"anonymous: {cases} cases")
    assert cases > 100
    assert not failures, "\n".join(failures)


def test_the_applicant_gets_what_the_spec_says(as_applicant):
    cases, failures = run(as_applicant)
    print(f"applicant: {cases} cases")
    assert cases > 50
    assert not failures, "\n".join(failures)


def test_the_token_is_required_by_every_operation_that_names_it(intake, applicant):
    """With the applicant's token each operation succeeds; without it 401, with a wrong one 404 (the same answer
    as for an unknown reference, so nobody learns which references exist), each as the spec documents it.

    schemathesis' own ignored_auth takes only 401 or 403 for a wrong credential, so these probes are ours."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", intake, config=contract_config())
    conformance = [not_a_server_error, status_code_conformance, content_type_conformance,
                   response_schema_conformance]
    succeeded = []
    # withdrawal last: it ends what the others can do
    for result in sorted(schema.get_all_operations(), key=lambda result: result.ok().path.endswith("/withdraw")):
        operation = result.ok()
        if not operation.definition.raw.get("security"):
            continue
        multipart = {"media_type": "multipart/form-data",
                     "body": {"language_certificate": make_pdf("Language certificate")}} if operation.body else {}
        for headers, expected in (({}, 401), ({"Authorization": "Bearer " + "0" * 64}, 404),
                                  (applicant.headers(), 200)):
            case = operation.Case(path_parameters={"reference": applicant.reference}, headers=headers, **multipart)
            response = case.call_and_validate(checks=conformance)
            assert (response.status_code // 100 * 100 if expected == 200 else response.status_code) == expected, (
                operation.label, headers.keys(), response.status_code, response.text)
        succeeded.append(operation.label)
    assert len(succeeded) == 6, succeeded
