"""`celery -A services.intake.worker worker -Q intake.checks,intake.events` (and `-Q intake.render`)."""
from celery.signals import worker_init

from services.intake import create_app
from services.intake.dossier.tasks import limit_render_memory
from shared.config import SettingsError
from shared.events.signing import require_worker_keys, worker_queues

flask_app = create_app(web=False)  # a worker serves nothing: no keys
celery = flask_app.extensions["celery"]
limit_render_memory(celery, flask_app.config["SETTINGS"].render_memory_mb)


@worker_init.connect(weak=False)
def _require_documents_keys(**_kwargs) -> None:
    # checks and renders open the stored documents; beat, which loads this module too, never does. Celery
    # logs and forgets what a signal's receiver raises, except SystemExit
    try:
        flask_app.config["SETTINGS"].require_documents_keys()
    except SettingsError as exc:
        raise SystemExit(str(exc)) from None


@worker_init.connect(weak=False)
def _require_event_keys(sender=None, **_kwargs) -> None:
    # every intake worker writes events (checks, status changes, dossiers); the one on intake.events verifies
    # review's decisions
    queues = worker_queues(sender)
    require_worker_keys(flask_app.config["SETTINGS"], signs="intake",
                        verifies=("review",) if not queues or "intake.events" in queues else ())
