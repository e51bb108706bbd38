"""The Celery app factory: reliable defaults for every service's workers."""
from __future__ import annotations

import time

from celery import Celery, Task
from celery.signals import (before_task_publish, task_failure, task_postrun, task_prerun, task_retry, worker_init,
                            worker_process_init)

from shared.config import Settings
from shared import db as shared_db
from shared import metrics
from shared.logging import correlation_id, reference, sane_id

# Longer than the slowest task's hard time limit, so Redis never redelivers a running task.
VISIBILITY_TIMEOUT = 3600
TASK_TIME_LIMIT = 600


@worker_process_init.connect(weak=False)
def _fresh_pools_in_child(**_kwargs) -> None:
    # A prefork child shares the parent's pooled sockets: two processes on one PostgreSQL
    # connection interleave their protocol (e.g. DuplicatePreparedStatement) and lose events.
    shared_db.after_fork()


# The header that carries a task's correlation id (docs/operations.md, "Tracing an application")
CORRELATION_HEADER = "nip_correlation_id"
_running: dict[str, float] = {}


@before_task_publish.connect(weak=False)
def _carry_correlation_id(headers=None, **_kwargs) -> None:
    if headers is not None and correlation_id.get():
        headers.setdefault(CORRELATION_HEADER, correlation_id.get())


@worker_init.connect(weak=False)
def _worker_metrics(sender=None, **_kwargs) -> None:
    where = sender.app.conf.get("nip_task_metrics") if sender is not None else None
    if where is not None:
        metrics.configure_worker(service=sender.app.main, **where)


@task_prerun.connect(weak=False)
def _task_started(task_id=None, task=None, **_kwargs) -> None:
    # a pool child runs one task at a time: the context is this task's until postrun clears it
    correlation_id.set(sane_id(getattr(task.request, CORRELATION_HEADER, None)))
    reference.set(None)
    _running[task_id] = time.perf_counter()


@task_postrun.connect(weak=False)
def _task_finished(task_id=None, task=None, **_kwargs) -> None:
    correlation_id.set(None)
    started = _running.pop(task_id, None)
    if started is not None:
        metrics.TASK_SECONDS.labels(task.app.main, task.name).observe(time.perf_counter() - started)


@task_failure.connect(weak=False)
def _task_failed(sender=None, **_kwargs) -> None:
    metrics.TASK_FAILURES.labels(sender.app.main, sender.name).inc()


@task_retry.connect(weak=False)
def _task_retried(sender=None, **_kwargs) -> None:
    metrics.TASK_RETRIES.labels(sender.app.main, sender.name).inc()


# Embedded mode's broker and pool, fixed where kombu's and billiard's stall or lose work (see each module):
# messages written and claimed atomically, kept until acked; pool children that may die without a stall.
EMBEDDED = {"broker_transport": "shared.celery_filesystem:Transport", "worker_pool": "shared.celery_pool:TaskPool"}


def broker_options(settings: Settings) -> dict:
    if settings.embedded_broker:
        folder = settings.var_dir / "broker"
        for sub in ("queue", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {"data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
                "control_folder": str(folder / "control"), "store_processed": False, "polling_interval": 0.2}
    return {"visibility_timeout": VISIBILITY_TIMEOUT}


def make_celery(name: str, *, settings: Settings, flask_app=None, default_queue: str | None = None) -> Celery:
    """A Celery app whose tasks run inside `flask_app`'s context when one is given."""
    app = Celery(name)
    app.conf.update(
        broker_url=settings.broker_url,
        broker_transport_options=broker_options(settings),
        broker_connection_retry_on_startup=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_time_limit=TASK_TIME_LIMIT,
        task_soft_time_limit=TASK_TIME_LIMIT - 30,
        task_default_queue=default_queue or f"{name}.default",
        worker_max_tasks_per_child=200,
        worker_hijack_root_logger=False,
        # where the worker's task metrics go (_worker_metrics above)
        nip_task_metrics={"directory": settings.metrics_dir, "var_dir": settings.var_dir,
                          "embedded": settings.embedded_broker},
        task_serializer="json",
        accept_content=["json"],
        # the filesystem transport has no fanout exchange for remote control and events
        worker_enable_remote_control=not settings.embedded_broker,
        **(EMBEDDED if settings.embedded_broker else {}),
    )
    if settings.broker_url.startswith("redis://"):
        # tasks dropped with a lost broker connection come back at once, not after the visibility timeout
        from shared.celery_redis import RestoreForgottenOnConnect

        app.conf.broker_transport = "shared.celery_redis:Transport"
        app.steps["consumer"].add(RestoreForgottenOnConnect)
    if flask_app is not None:

        class FlaskTask(Task):
            def __call__(self, *args, **kwargs):
                with flask_app.app_context():
                    return self.run(*args, **kwargs)

        app.Task = FlaskTask
        app.set_default()
        flask_app.extensions["celery"] = app
    return app
