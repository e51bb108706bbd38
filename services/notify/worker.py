"""The notify Celery worker: `celery -A services.notify.worker worker -Q notify.email`."""
from services.notify import create_app

flask_app = create_app(web=False)  # a worker serves nothing: no keys
celery = flask_app.extensions["celery"]
