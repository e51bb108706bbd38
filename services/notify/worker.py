"""The notify Celery worker: `celery -A services.notify.worker worker -Q notify.email`."""
from celery.signals import worker_init

from services.notify import create_app
from shared.events.signing import require_worker_keys

flask_app = create_app(web=False)  # a worker serves nothing: no web keys (its event keys: below)
celery = flask_app.extensions["celery"]


@worker_init.connect(weak=False)
def _require_event_keys(**_kwargs) -> None:
    # it acts on intake's and review's events, and signs none
    require_worker_keys(flask_app.config["SETTINGS"], verifies=("intake", "review"))
