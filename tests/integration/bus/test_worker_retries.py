"""A real review worker retries a failing event through the broker, with backoff, until it applies."""
from __future__ import annotations

import dataclasses
import time

import pytest
from sqlalchemy import create_engine, text

from shared.events import sign_event
from shared.bus.consumer import event_argsrepr
from shared.celery import make_celery
from tests.integration.bus.helpers import Worker, key_environment, submitted


def wait_for(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.mark.timeout(180)
def test_a_transient_failure_is_retried_by_the_worker_and_an_invalid_event_is_kept(
        bus_settings, databases, redis_server, tmp_path):
    url = databases["review"]
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    worker = Worker("services.review.worker", "review.events",
                    {**key_environment(), "REVIEW_DATABASE_URL": url, "BROKER_URL": redis_server.url,
                     "VAR_DIR": str(tmp_path / "var")}, tmp_path / "worker.log", concurrency=1)
    try:
        with engine.connect() as conn:
            conn.execute(text("ALTER TABLE applications ADD CONSTRAINT h5_block CHECK (reference <> 'NIP27-RETRY1')"))
            worker.wait_ready()
            good, bad = submitted("NIP27-RETRY1"), submitted("NIP27-BAD005")
            bad["data"]["departments"] = []
            sign_event(bad)  # signed again after the change, as its producer would have
            publisher = make_celery("test", settings=dataclasses.replace(bus_settings, broker_url=redis_server.url))
            for event in (good, bad):
                publisher.send_task("review.handle_event", args=[event], queue="review.events",
                                    argsrepr=event_argsrepr(event["id"], event["type"]))

            wait_for(lambda: "event failed, will retry" in worker.log())
            conn.execute(text("ALTER TABLE applications DROP CONSTRAINT h5_block"))  # the database recovers
            wait_for(lambda: conn.execute(text("SELECT status FROM applications")).scalar() == "submitted")

            assert conn.execute(text("SELECT event_id FROM inbox")).scalars().all() == [good["id"]]
            [letter] = conn.execute(text("SELECT * FROM dead_letters")).all()
            assert letter.event_id == bad["id"] and letter.attempts == 1
        log = worker.log().split(" ready.", 1)[1]
        assert "event failed, will retry" in log and "h5_block" in log  # the cause, for whoever reads the log
        assert "Petrova" not in log  # but neither the row nor the envelope, retried message included
    finally:
        worker.stop()
        engine.dispose()


def test_reconcile_says_why_when_intake_cannot_be_read(command):
    production = {"BROKER_URL": "redis://127.0.0.1:9/0", "SYNC_API_KEY": ""}  # no key generated outside embedded mode
    result = command("review", "reconcile", extra_env=production)
    assert result.returncode == 1 and "reconcile: SYNC_API_KEY is not set" in result.stderr
    result = command("notify", "reconcile", extra_env={"INTAKE_URL": "http://127.0.0.1:9"})
    assert result.returncode == 1 and "reconcile: intake unreachable: ConnectionError" in result.stderr
