"""/metrics reports the whole service under gunicorn, and the pipeline as its database holds it."""
from __future__ import annotations

import socket

import pytest
import requests
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from prometheus_client.parser import text_string_to_metric_families

from services.intake.db import OUTBOX
from shared.metrics import pipeline_families
from shared.bus.outbox import enqueue_task
from shared.db import utcnow
from tests.e2e.stack import Stack, embedded_environment, procfile

ROUTE = {"service": "intake", "method": "GET", "endpoint": "programme.programme", "status": "200"}
METRICS_TOKEN = "prometheus-bearer-token-for-the-metrics-test"
SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sample(text: str, name: str, labels: dict) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


@pytest.fixture(params=["explicit dir", "embedded default"])
def intake_under_gunicorn(tmp_path, request):
    """The Procfile's intake line (gunicorn, two workers) in embedded mode: the multiprocess dir set as in
    compose and k8s, or left to its embedded default under var/."""
    port = _free_port()
    env = embedded_environment(tmp_path, {"intake": port, "review": _free_port(), "notify": _free_port(),
                                          "smtp": _free_port()})
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics") if request.param == "explicit dir" else ""
    env["METRICS_TOKEN"] = METRICS_TOKEN
    stack = Stack(tmp_path, env)
    try:
        for command in ("python -m services.intake migrate", "python -m services.intake seed"):
            stack.run_once(command, command)
        stack.start("intake", procfile()["intake"])
        url = f"http://127.0.0.1:{port}"
        stack.wait_http(f"{url}/readyz")
        yield stack, url
        directory = tmp_path / "metrics" / "intake" if request.param == "explicit dir" else tmp_path / "var" / "metrics" / "intake"
        assert list(directory.glob("*.db")) and directory.stat().st_mode & 0o077 == 0
    finally:
        stack.stop()


def test_metrics_count_requests_served_by_every_gunicorn_worker(intake_under_gunicorn):
    stack, url = intake_under_gunicorn
    assert len(stack.children("intake")) == 2
    for _ in range(40):
        # a fresh connection each time, so gunicorn hands requests to either worker
        with requests.Session() as fresh:
            assert fresh.get(f"{url}/api/v1/programme", timeout=10).status_code == 200
    seen = set()
    for _ in range(12):
        with requests.Session() as fresh:
            text = fresh.get(f"{url}/metrics", headers=SCRAPE, timeout=10).text
        assert _sample(text, "http_requests_total", ROUTE) == 40
        assert _sample(text, "http_request_seconds_count", {"service": "intake",
                                                            "endpoint": ROUTE["endpoint"]}) == 40
        # the scrape-time pipeline metrics are there in multiprocess mode too
        assert _sample(text, "outbox_backlog", {"service": "intake"}) is not None
        assert _sample(text, "applications", {}) is None  # no application yet: no series
        # which worker answered: its own /metrics requests are counted in the files it writes
        seen.add(_sample(text, "http_requests_total", {**ROUTE, "endpoint": "ops.metrics"}))
    assert len(seen) == 12, "every scrape is counted once, whichever worker served it"


def test_metrics_under_gunicorn_refuse_a_scrape_without_the_token(intake_under_gunicorn):
    _, url = intake_under_gunicorn
    for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": METRICS_TOKEN}):
        refused = requests.get(f"{url}/metrics", headers=headers, timeout=10)
        assert refused.status_code == 401 and "http_requests_total" not in refused.text
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")


def _outbox_engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'intake.db'}")
    OUTBOX.create(engine)
    return engine


def test_outbox_backlog_is_the_number_of_unsent_rows(tmp_path):
    engine = _outbox_engine(tmp_path)
    with Session(engine) as session:
        for n in range(5):
            enqueue_task(session=session, outbox=OUTBOX, task="intake.check", queue="intake.checks", args=[n])
        session.commit()
    with engine.begin() as conn:
        first_two = [r.id for r in conn.execute(OUTBOX.select().order_by(OUTBOX.c.id).limit(2))]
        conn.execute(OUTBOX.update().where(OUTBOX.c.id.in_(first_two)).values(sent_at=utcnow()))

    families = {f.name: f for f in pipeline_families(service="intake", engine_getter=lambda: engine,
                                                      outbox=OUTBOX, counts={})}
    [sample] = families["outbox_backlog"].samples
    assert sample.labels == {"service": "intake"} and sample.value == 3


def test_queue_depth_is_the_length_of_each_redis_queue(tmp_path, redis_server):
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.rpush("intake.render", "a", "b")
    families = {f.name: f for f in pipeline_families(
        service="intake", engine_getter=lambda: _outbox_engine(tmp_path), outbox=OUTBOX, counts={},
        queues=("intake.render", "intake.checks"), redis_url=redis_server.url)}
    depth = {s.labels["queue"]: s.value for s in families["celery_queue_depth"].samples}
    assert depth == {"intake.render": 2, "intake.checks": 0}


def test_the_grafana_dashboard_queries_only_metrics_the_services_expose():
    import json
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    dashboard = json.loads((root / "deploy" / "grafana" / "nip-dashboard.json").read_text())
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\b([a-z_]+)\s*(?:\{|\)|\[)", target["expr"])}
    queried -= {"rate", "sum", "max", "increase", "histogram_quantile", "by", "le", "service", "endpoint", "queue",
                "event_type", "state", "status"}
    source = "".join(p.read_text() for folder in ("shared", "services") for p in (root / folder).rglob("*.py"))
    defined = {name for name in queried
               if f'"{name}"' in source or f'"{re.sub(r"_(total|bucket)$", "", name)}"' in source}
    assert queried and queried == defined


def test_notify_metrics_count_emails_by_state_from_its_database(settings):
    from services.notify import create_app
    from services.notify.db import Base, db
    from services.notify.deliveries.models import Delivery

    app = create_app(settings)
    Base.metadata.create_all(db.engine)
    with app.app_context():
        for n, state in enumerate(("sent", "sent", "failed", "pending")):
            db.session.add(Delivery(event_id=f"event-{n}", reference=f"NIP-{n}", transition="submitted",
                                    language="en", template="submitted", recipient=f"c{n}@example.org",
                                    subject="s", body_text="t", body_html="h", state=state))
        db.session.commit()
    text = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {settings.metrics_token}"}).text
    assert {state: _sample(text, "emails", {"state": state}) for state in ("sent", "failed", "pending")} == \
        {"sent": 2, "failed": 1, "pending": 1}
    assert _sample(text, "outbox_backlog", {"service": "notify"}) == 0
