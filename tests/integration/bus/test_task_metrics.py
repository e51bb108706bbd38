"""A real worker's tasks show on the service's /metrics: run time per task, and the retries it needed."""
from __future__ import annotations

import dataclasses

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from shared.bus.consumer import event_argsrepr
from shared.celery import make_celery
from services.notify.mailcatcher import free_port
from shared.metrics import ENV, WORKER_PORT_ENV
from tests.integration.bus.helpers import Worker, key_environment, submitted
from tests.integration.bus.test_worker_retries import wait_for

TASK = {"service": "review", "task": "review.handle_event"}


def sample(body: str, name: str, labels: dict) -> float | None:
    for family in text_string_to_metric_families(body):
        for item in family.samples:
            if item.name == name and all(item.labels.get(k) == v for k, v in labels.items()):
                return item.value
    return None


@pytest.mark.timeout(180)
def test_a_workers_tasks_are_counted_on_the_services_metrics(bus_settings, databases, redis_server, tmp_path,
                                                             monkeypatch):
    from services.review import create_app

    url = databases["review"]
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    port = free_port()
    worker = Worker("services.review.worker", "review.events",
                    {**key_environment(), "REVIEW_DATABASE_URL": url, "BROKER_URL": redis_server.url,
                     "VAR_DIR": str(tmp_path / "var"), ENV: str(tmp_path / "metrics"), WORKER_PORT_ENV: str(port)},
                    tmp_path / "worker.log", concurrency=1)
    try:
        with engine.connect() as conn:
            # the second application fails once (as if the database refused it), then goes through
            conn.execute(text("ALTER TABLE applications ADD CONSTRAINT metrics_block CHECK (reference <> 'NIP27-MET02')"))
            worker.wait_ready()
            publisher = make_celery("test", settings=dataclasses.replace(bus_settings, broker_url=redis_server.url))
            for event in (submitted("NIP27-MET01"), submitted("NIP27-MET02")):
                publisher.send_task("review.handle_event", args=[event], queue="review.events",
                                    argsrepr=event_argsrepr(event["id"], event["type"]))
            wait_for(lambda: "event failed, will retry" in worker.log())
            conn.execute(text("ALTER TABLE applications DROP CONSTRAINT metrics_block"))
            wait_for(lambda: conn.execute(text("SELECT count(*) FROM applications")).scalar() == 2)
        # where the worker has a host of its own (a pod), it serves the same numbers itself
        def served_by_the_worker() -> str | None:
            body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            return body if sample(body, "celery_task_seconds_count", TASK) == 3 else None

        assert sample(wait_for(served_by_the_worker), "celery_task_retries_total", TASK) == 1
    finally:
        worker.stop()  # a stopped worker's counts stay: they are files, not the process's memory
        engine.dispose()

    app = create_app(dataclasses.replace(bus_settings, review_database_url=url))
    monkeypatch.setenv(ENV, str(tmp_path / "metrics" / "review"))  # as gunicorn's workers have it
    body = app.test_client().get("/metrics", headers={
        "Authorization": f"Bearer {app.config['SETTINGS'].metrics_token}"}).get_data(as_text=True)

    assert sample(body, "celery_task_seconds_count", TASK) == 3  # two events, one of them twice
    assert sample(body, "celery_task_seconds_sum", TASK) > 0
    assert sample(body, "celery_task_retries_total", TASK) == 1
    assert sample(body, "celery_task_failures_total", TASK) is None  # a retry is not a failure
