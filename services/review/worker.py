"""Celery entry point: `celery -A services.review.worker worker -Q review.events`.

No database work here: this runs in the Celery parent, whose pooled connections the prefork
children would inherit (the first admin is created by `migrate` and by the web app instead).
"""
from services.review import create_app

flask_app = create_app(first_admin=False, web=False)  # no keys either
celery = flask_app.extensions["celery"]
