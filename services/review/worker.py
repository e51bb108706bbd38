"""Celery entry point: `celery -A services.review.worker worker -Q review.events`.

No database work here: this runs in the Celery parent, whose pooled connections the prefork
children would inherit (the first admin is created by `migrate` and by the web app instead).
"""
from celery.signals import worker_init

from services.review import create_app
from shared.events.signing import require_worker_keys

flask_app = create_app(first_admin=False, web=False)  # no keys either
celery = flask_app.extensions["celery"]



@worker_init.connect(weak=False)
def _require_event_keys(**_kwargs) -> None:
    # it applies intake's events and, assigning reviewers, writes its own (review.assigned)
    require_worker_keys(flask_app.config["SETTINGS"], signs="review", verifies=("intake",))
