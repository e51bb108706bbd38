"""Issue 23, item 1: reaching the broker is not enough to forge an event.

Against a real Redis that requires a password, with real workers: a client without the password cannot even
connect; one with it (or a pod that stole BROKER_URL) queues forged events straight onto the consumers' queues,
and they change nothing, send nothing, and are kept as dead letters; the genuine event that follows applies.
"""
from __future__ import annotations

import copy
import secrets
import time

import pytest
import redis
from sqlalchemy import create_engine, text

from services.intake import create_app as create_intake
from services.intake.applications.tasks import check_application
from services.intake.db import db
from services.intake.programme.service import seed_call
from shared.bus.consumer import event_argsrepr
from shared.celery import make_celery
from shared.events import make_event, sign_event, signing
from shared.keys import generate_signing_key, load_private_key
from tests.conftest import RedisServer
from tests.factories import application_payload, make_pdf, multipart
from tests.integration.bus.helpers import T0, Worker, key_environment

ATTACKER_LINK = "https://attacker.example/nato-internships/login"
ATTACKER_KEY = load_private_key(generate_signing_key())


def wait_for(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.fixture
def broker(tmp_path):
    server = RedisServer(tmp_path / "redis", password="test-redis-" + secrets.token_urlsafe(24)).start()
    yield server
    server.stop()


def publisher(bus_settings, url: str):
    import dataclasses

    return make_celery("attacker", settings=dataclasses.replace(bus_settings, broker_url=url))


def push(celery, task: str, queue: str, envelope) -> None:
    celery.send_task(task, args=[envelope], queue=queue,
                     argsrepr=event_argsrepr(envelope.get("id"), envelope.get("type")))


def access_requested(**overrides) -> dict:
    return make_event("application.access_requested", {
        "reference": "NIP27-FORGE1", "email": "victim@example.org", "name": "Ana Petrova", "language": "en",
        "link": ATTACKER_LINK, "expires_at": T0, "purpose": "status", **overrides}, producer="intake")


def without_signature(envelope: dict) -> dict:
    return {key: value for key, value in envelope.items() if key not in ("signature", "redacted_signature")}


def test_a_client_without_the_redis_password_cannot_connect_or_queue(broker, bus_settings):
    anonymous = broker.url.replace(f":{broker.password}@", "")

    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=broker.port, socket_timeout=2).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=broker.port, password="guessed-password", socket_timeout=2).ping()
    celery = publisher(bus_settings, anonymous)
    celery.conf.broker_connection_retry = False
    with pytest.raises(Exception, match="(?i)auth|NOAUTH"):
        celery.send_task("notify.handle_event", args=[access_requested()], queue="notify.email", retry=False)
    assert redis.Redis(port=broker.port, password=broker.password).llen("notify.email") == 0


@pytest.mark.timeout(180)
def test_forged_access_links_sent_through_the_broker_email_no_one(broker, bus_settings, databases, tmp_path):
    url = databases["notify"]
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    worker = Worker("services.notify.worker", "notify.email",
                    {**key_environment(), "NOTIFY_DATABASE_URL": url, "BROKER_URL": broker.url,
                     "VAR_DIR": str(tmp_path / "var"), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": "9"},
                    tmp_path / "worker.log", concurrency=1)
    unsigned = without_signature(access_requested())
    attackers_key = signing.sign(access_requested(), key=ATTACKER_KEY)
    reviews_key = signing.sign(access_requested(), key=signing._signing["review"])  # review's real key, "intake"
    as_review = access_requested()
    as_review["producer"] = "review"
    signing.sign(as_review, key=signing._signing["review"])  # review's own event... of a type only intake produces
    tampered = access_requested(link="https://apply.example.org/portal/enter/genuine")
    tampered["data"]["link"] = ATTACKER_LINK  # a genuine event, its link swapped on the way
    forged = [unsigned, attackers_key, reviews_key, as_review, tampered]
    genuine = access_requested(reference="NIP27-GENUINE", email="real.candidate@example.org",
                               link="https://apply.example.org/portal/enter/genuine")
    try:
        worker.wait_ready()
        celery = publisher(bus_settings, broker.url)
        for envelope in forged:
            push(celery, "notify.handle_event", "notify.email", envelope)
        push(celery, "notify.handle_event", "notify.email", genuine)

        with engine.connect() as conn:
            wait_for(lambda: conn.execute(text("SELECT count(*) FROM deliveries")).scalar() == 1)
            wait_for(lambda: conn.execute(text("SELECT count(*) FROM dead_letters")).scalar() == len(forged))
            [delivery] = conn.execute(text("SELECT event_id, recipient, body_text FROM deliveries")).all()
            assert delivery.event_id == genuine["id"] and delivery.recipient == "real.candidate@example.org"
            assert conn.execute(text("SELECT event_id FROM inbox")).scalars().all() == [genuine["id"]]
            letters = conn.execute(text("SELECT event_id, error FROM dead_letters ORDER BY id")).all()
        assert [letter.event_id for letter in letters] == [envelope["id"] for envelope in forged]
        assert all("signature" in letter.error for letter in letters)
    finally:
        worker.stop()
        engine.dispose()


@pytest.mark.timeout(240)
def test_a_forged_decision_sent_through_the_broker_changes_no_outcome(broker, bus_settings, databases, tmp_path):
    app = create_intake(bus_settings)
    app.config["TESTING"] = True
    with app.app_context():
        seed_call(session=db.session, deadline=bus_settings.call_deadline)
        db.session.commit()
        body = app.test_client().post("/api/v1/applications", content_type="multipart/form-data", data=multipart(
            application_payload(), cv=make_pdf("Curriculum vitae"), academic_proof=make_pdf("Enrolment"))).get_json()
        assert "reference" in body, body
        reference = body["reference"]
        assert check_application.run(reference) == "under_review"
    url = databases["intake"]
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    worker = Worker("services.intake.worker", "intake.events",
                    {**key_environment(), "INTAKE_DATABASE_URL": url, "BROKER_URL": broker.url,
                     "VAR_DIR": str(tmp_path / "var"), "DOCUMENTS_DIR": str(bus_settings.documents_dir),
                     "DOCUMENTS_KEYS": bus_settings.documents_keys},
                    tmp_path / "worker.log", concurrency=1)

    def decision(value: str) -> dict:
        return make_event("decision.released", {"reference": reference, "decision": value, "reason_code": None,
                                                 "released_by": "admin@example.org"}, producer="review")

    unsigned = without_signature(decision("shortlisted"))
    attackers_key = signing.sign(decision("shortlisted"), key=ATTACKER_KEY)
    intakes_key = decision("shortlisted")
    intakes_key["producer"] = "intake"
    sign_event(intakes_key)  # signed with intake's real key: intake does not release decisions
    claims_review = signing.sign(decision("shortlisted"), key=signing._signing["intake"])
    flipped = decision("rejected")
    flipped["data"]["decision"] = "shortlisted"  # a genuine rejection, turned into an offer on the way
    forged = [unsigned, attackers_key, intakes_key, claims_review, flipped]

    def status() -> str:
        with engine.connect() as conn:
            return conn.execute(text("SELECT status FROM applications WHERE reference = :r"), {"r": reference}).scalar()

    try:
        worker.wait_ready()
        celery = publisher(bus_settings, broker.url)
        for envelope in forged:
            push(celery, "intake.handle_event", "intake.events", envelope)
        with engine.connect() as conn:
            wait_for(lambda: conn.execute(text("SELECT count(*) FROM dead_letters")).scalar() == len(forged))
            letters = conn.execute(text("SELECT event_id, error FROM dead_letters ORDER BY id")).all()
            assert conn.execute(text("SELECT count(*) FROM inbox")).scalar() == 0
        assert status() == "under_review"
        assert [letter.event_id for letter in letters] == [envelope["id"] for envelope in forged]
        assert all("signature" in letter.error for letter in letters)

        push(celery, "intake.handle_event", "intake.events", copy.deepcopy(decision("reserve")))  # the real one
        wait_for(lambda: status() == "reserve")
    finally:
        worker.stop()
        engine.dispose()
