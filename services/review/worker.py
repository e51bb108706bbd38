"""Celery entry point: `celery -A services.review.worker worker -Q review.events`."""
from services.review import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
