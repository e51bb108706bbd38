"""What /metrics reports: request metrics summed over every gunicorn worker, and the pipeline read at scrape time.

gunicorn forks several workers and a scrape reaches one of them, so per-process counters would show a
fraction of the traffic. With `PROMETHEUS_MULTIPROC_DIR` set, prometheus_client writes every worker's
values to files in that directory and /metrics sums them (`MultiProcessCollector`). The pipeline's
numbers (outbox backlog, applications by status, emails by state, queue depth) are read from the
service's own database and broker when scraped, so any worker gives the whole service's answer.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Callable, Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"

# scrape-time collectors: in multiprocess mode they are added to the per-scrape registry too
_SCRAPE_COLLECTORS: list = []
# Celery workers of a service write here, under the web's directory (shared/celery.py); workers are not
# gunicorn's children, so the web's start-up clean-up must not remove their files
WORKERS_SUBDIR = "workers"
WORKER_PORT_ENV = "WORKER_METRICS_PORT"

# task labels are task names, a fixed set; seconds from a fast email to a slow dossier
TASK_SECONDS = Histogram("celery_task_seconds", "Celery task run time", ["service", "task"],
                         buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600))
TASK_FAILURES = Counter("celery_task_failures", "Celery tasks that ended in an error", ["service", "task"])
TASK_RETRIES = Counter("celery_task_retries", "Celery tasks scheduled again after an error", ["service", "task"])


def _under_gunicorn() -> bool:
    return Path(sys.argv[0]).name.startswith("gunicorn")


def configure_multiprocess(*, service: str, directory: Path | None, var_dir: Path, embedded: bool) -> str | None:
    """Use multiprocess mode where several workers serve one service; returns the directory, or None.

    In containers the directory comes from `PROMETHEUS_MULTIPROC_DIR` (compose, k8s). In embedded mode
    under gunicorn it defaults to `var/metrics`, so `make run` needs no setting; the test suite and the
    Flask dev server run one process and keep the default registry. Each service writes to its own
    subdirectory: on one host (make run, the end-to-end test) three services share the parent.
    """
    if directory is None and embedded and _under_gunicorn():
        directory = var_dir / "metrics"
    # a Celery worker builds the web app too: its metrics go to configure_worker's directory, and its start
    # must not clear the web's files
    if directory is None or Path(sys.argv[0]).name == "celery":
        return None
    path = (Path(directory) / service).resolve()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # prometheus_client reads the variable itself (value class, MultiProcessCollector)
    os.environ[ENV] = str(path)
    _clear_previous_run(path)
    # prometheus_client chose its value class when first imported, perhaps before the variable was set
    values.ValueClass = values.get_value_class()
    return str(path)


def _clear_previous_run(path: Path) -> None:
    """Files left by an earlier gunicorn master would add an old run's counts to this one's.

    Workers record their master's pid; the first worker of a new master empties the directory before any
    value is written (values are written on a route's first request, well after every worker started).
    A worker that replaces a dead one under the same master keeps the files: counters must not go back.
    """
    marker = path / "master.pid"
    master = str(os.getppid())
    try:
        if marker.read_text() == master:
            return
    except OSError:
        pass
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)
    marker.write_text(master)


def configure_worker(*, service: str, directory: Path | None, var_dir: Path, embedded: bool) -> str | None:
    """Task metrics of a Celery worker (and its pool's children) to files /metrics adds up; returns the directory.

    Where the web service shares the host (`make run`), its /metrics reads them. In containers each worker
    has its own filesystem: `WORKER_METRICS_PORT` serves them from the worker itself (k8s scrapes the pod).
    Files are never cleared here: several workers of one service share the directory, and counters only grow.
    """
    if directory is None and embedded:
        directory = var_dir / "metrics"
    if directory is None:
        return None
    path = (Path(directory) / service / WORKERS_SUBDIR).resolve()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ[ENV] = str(path)
    values.ValueClass = values.get_value_class()
    port = os.environ.get(WORKER_PORT_ENV)
    if port:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(path))
        start_http_server(int(port), registry=registry)
    return str(path)


def register_collector(collector) -> None:
    """Add a scrape-time collector to /metrics, once per process whatever the number of apps built."""
    if any(type(c) is type(collector) for c in _SCRAPE_COLLECTORS):
        return
    _SCRAPE_COLLECTORS.append(collector)
    REGISTRY.register(collector)


def scrape_registry():
    """The registry /metrics renders: all workers' files plus the scrape-time collectors, or this process's."""
    if not os.environ.get(ENV):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    workers = Path(os.environ[ENV]) / WORKERS_SUBDIR
    if workers.is_dir():  # the service's Celery workers on this host (configure_worker)
        multiprocess.MultiProcessCollector(registry, path=str(workers))
    from shared.bus import consumer

    collectors = list(_SCRAPE_COLLECTORS)
    if consumer._registered:  # dead letters, read from the table at scrape time (shared/bus/consumer.py)
        collectors.append(consumer._COLLECTOR)
    for collector in collectors:
        registry.register(collector)
    return registry


class PipelineCollector:
    """Per service, from its database and broker: outbox backlog, its own counts, queue depth.

    The app registers what to read in `app.extensions["pipeline_metrics"]`; the collector reads the app of
    the current request, so one process-wide collector serves whichever service this process is.
    """

    def collect(self) -> Iterable:
        from flask import current_app, has_app_context

        if not has_app_context() or "pipeline_metrics" not in current_app.extensions:
            return
        spec = current_app.extensions["pipeline_metrics"]
        yield from pipeline_families(**spec)

    def describe(self):
        return []


def pipeline_families(*, service: str, engine_getter: Callable, outbox, counts: dict, queues: Iterable[str] = (),
                      redis_url: str | None = None) -> list:
    """The metric families for one service; a database or broker that does not answer leaves its part out."""
    families = []
    try:
        with engine_getter().connect() as conn:
            backlog = GaugeMetricFamily("outbox_backlog", "Outbox rows not yet published", labels=["service"])
            backlog.add_metric([service], conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))).scalar_one())
            families.append(backlog)
            for name, (kind, doc, label, column) in counts.items():
                family = _family(kind, name, doc, [label] if label is not None else [])
                if label is None:
                    family.add_metric([], conn.execute(select(func.count()).where(column)).scalar_one())
                else:
                    for value, count in conn.execute(select(column, func.count()).group_by(column)).all():
                        family.add_metric([str(value)], count)
                families.append(family)
    except SQLAlchemyError as exc:
        log.warning("pipeline metrics unavailable", extra={"error": type(exc).__name__})
    if redis_url and queues:
        families += _queue_depth(service, redis_url, queues)
    return families


def _family(kind: str, name: str, doc: str, labels: list):
    return (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(name, doc, labels=labels)


def _queue_depth(service: str, redis_url: str, queues: Iterable[str]) -> list:
    import redis

    depth = GaugeMetricFamily("celery_queue_depth", "Messages waiting in a Celery queue", labels=["queue"])
    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
        try:
            # kombu keeps a queue as a Redis list named after it
            for queue in queues:
                depth.add_metric([queue], client.llen(queue))
        finally:
            client.close()
    except redis.RedisError as exc:
        log.warning("queue depth unavailable", extra={"service": service, "error": type(exc).__name__})
        return []
    return [depth]


def register_pipeline_metrics(app, *, service: str, engine_getter: Callable, outbox, counts: dict | None = None,
                              queues: Iterable[str] = ()) -> None:
    """Expose `service`'s pipeline on its /metrics.

    `counts` maps a metric name to (kind, help, label or None, column or condition): with a label, rows are
    counted per value of the column; without, rows matching the condition are counted.
    """
    settings = app.config.get("SETTINGS")
    broker = getattr(settings, "broker_url", "") or ""
    redis_url = broker if broker.startswith(("redis://", "rediss://")) else None
    app.extensions["pipeline_metrics"] = {"service": service, "engine_getter": engine_getter, "outbox": outbox,
                                          "counts": counts or {}, "queues": tuple(queues), "redis_url": redis_url}
    register_collector(PipelineCollector())
