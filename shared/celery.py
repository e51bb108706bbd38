"""The Celery app factory: reliable defaults for every service's workers."""
from __future__ import annotations

from celery import Celery, Task
from celery.signals import worker_process_init

from shared.config import Settings
from shared import db as shared_db

# Longer than the slowest task's hard time limit, so Redis never redelivers a running task.
VISIBILITY_TIMEOUT = 3600
TASK_TIME_LIMIT = 600


@worker_process_init.connect(weak=False)
def _fresh_pools_in_child(**_kwargs) -> None:
    # A prefork child shares the parent's pooled sockets: two processes on one PostgreSQL
    # connection interleave their protocol (e.g. DuplicatePreparedStatement) and lose events.
    shared_db.after_fork()


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
