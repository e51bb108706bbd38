"""A prefork review worker against PostgreSQL under a burst of concurrent events loses nothing.

The regression: the worker's app factory used the database in the Celery parent (the first-admin
check), the forked children shared that pooled connection and failed with
`DuplicatePreparedStatement`, and the failed events were dropped.
"""
from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from shared.bus.consumer import event_argsrepr
from shared.celery import make_celery
from tests.conftest import migrated_database
from tests.integration.bus.helpers import Worker, key_environment, life_of

APPLICATIONS = 50


def wait_until_quiet(engine, expected: int, *, timeout: float = 120.0) -> int:
    """Wait for `expected` handled events, or for the count to stop moving."""
    deadline, last, still_since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            handled = conn.execute(text("SELECT count(*) FROM inbox")).scalar()
            dead = conn.execute(text("SELECT count(*) FROM dead_letters")).scalar()
        if handled + dead >= expected:
            return handled
        if handled != last:
            last, still_since = handled, time.monotonic()
        elif time.monotonic() - still_since > 30:
            return handled
        time.sleep(0.3)
    return last


@pytest.mark.timeout(240)
def test_a_prefork_worker_applies_a_burst_of_concurrent_events_without_error(settings, redis_server, tmp_path):
    url = migrated_database("review", "_fork")
    env = {**key_environment(), "REVIEW_DATABASE_URL": url, "BROKER_URL": redis_server.url,
           "VAR_DIR": str(tmp_path / "var"), "ADMIN_EMAIL": "admin@example.org",
           "ADMIN_PASSWORD": "correct horse battery staple"}
    worker = Worker("services.review.worker", "review.events", env, tmp_path / "worker.log", concurrency=2)
    engine = create_engine(url)
    try:
        worker.wait_ready()
        events = [event for n in range(APPLICATIONS) for event in life_of(f"NIP27-F{n:05d}")]
        publisher = make_celery("test", settings=dataclasses.replace(settings, broker_url=redis_server.url))

        def publish(batch):
            with publisher.producer_or_acquire() as producer:
                for event in batch:
                    publisher.send_task("review.handle_event", args=[event], queue="review.events",
                                        producer=producer, argsrepr=event_argsrepr(event["id"], event["type"]))

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(publish, [events[i::4] for i in range(4)]))

        handled = wait_until_quiet(engine, len(events))
        log = worker.log()
        assert handled == len(events), log[-4000:]
        assert "DuplicatePreparedStatement" not in log
        # not even a failure that a retry then hid: the children never share a connection
        assert "event failed" not in log and "retry" not in log.lower(), log[-4000:]
        assert "ERROR" not in log and "Traceback" not in log, log[-4000:]
        assert "ana@example.org" not in log and "Petrova" not in log  # sent as the relay sends: ids only
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM dead_letters")).scalar() == 0
            rows = conn.execute(text("SELECT reference, status, dossier_key, checked_at, name "
                                     "FROM applications ORDER BY reference")).all()
            departments = conn.execute(text("SELECT count(*) FROM application_departments")).scalar()
        assert len(rows) == APPLICATIONS and departments == APPLICATIONS
        for row in rows:
            assert row.status == "under_review", row
            assert row.dossier_key == f"dossiers/{row.reference}.pdf"
            assert row.checked_at is not None and row.name == "Ana Petrova"
    finally:
        worker.stop()
        engine.dispose()


def test_any_forked_child_gets_its_own_connections_not_its_parents(settings):
    """gunicorn --preload or multiprocessing: a child never talks on the parent's pooled socket."""
    import multiprocessing

    from shared.db import Database

    database = Database()
    database.configure(migrated_database("review", "_fork2"))
    parent_backend = database.session.execute(text("SELECT pg_backend_pid()")).scalar()
    database.session.commit()  # the connection goes back to the pool, open, as after create_app's checks

    def child(queue):
        pids = {database.session.execute(text("SELECT pg_backend_pid()")).scalar() for _ in range(10)}
        database.session.commit()
        queue.put(pids)

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=child, args=(queue,))
    process.start()
    child_backends = queue.get(timeout=30)
    process.join(30)
    assert process.exitcode == 0
    assert parent_backend not in child_backends
    # and the parent's own connection is unharmed by the child's exit
    assert database.session.execute(text("SELECT pg_backend_pid()")).scalar() == parent_backend
    database.session.remove()
    database.engine.dispose()
