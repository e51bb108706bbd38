"""`celery -A services.intake.worker worker -Q intake.checks,intake.events` (and `-Q intake.render`)."""
from services.intake import create_app

flask_app = create_app(web=False)  # a worker serves nothing: no keys
celery = flask_app.extensions["celery"]
