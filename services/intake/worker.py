"""`celery -A services.intake.worker worker -Q intake.checks,intake.events` (and `-Q intake.render`)."""
from services.intake import create_app
from services.intake.dossier.tasks import limit_render_memory

flask_app = create_app(web=False)  # a worker serves nothing: no keys
celery = flask_app.extensions["celery"]
limit_render_memory(celery, flask_app.config["SETTINGS"].render_memory_mb)
