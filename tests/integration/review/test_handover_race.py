"""An admin deactivates a reviewer while an event is assigning them: the deactivation waits for the assigning
transaction and then hands its new assignment over, so no open assignment is left with someone inactive.

Not in a rolled-back transaction: two real connections must meet on the reviewer's row.
"""
from __future__ import annotations

import dataclasses
import threading
import time

from sqlalchemy import create_engine, select, text

from services.review import create_app
from services.review.accounts.models import User
from services.review.accounts.service import create_user, update_user
from services.review.applications.models import Application
from services.review.applications.tasks import handle_event
from services.review.db import db
from services.review.reviews.models import Assignment
from services.review.reviews.service import assign_reviewers, get_settings
from tests.conftest import migrated_database

from .conftest import PASSWORD, status_changed, submitted


def test_a_deactivation_during_an_assignment_hands_the_new_assignment_over(review_settings):
    url = migrated_database("review", "_race")
    app = create_app(dataclasses.replace(review_settings, review_database_url=url))
    # pg_stat_activity is read once per transaction: each look is a transaction of its own, on another connection
    observer = create_engine(url, isolation_level="AUTOCOMMIT")
    reference = "NIP27-RACE01"
    with app.app_context():
        # under review before anyone can review it: nobody assigned yet
        for event in (submitted(reference, departments=("it",)), status_changed(reference, "under_review")):
            handle_event(event)
        get_settings(session=db.session).reviewers_per_application = 1
        for email in ("r1@example.org", "r2@example.org"):
            create_user(session=db.session, email=email, password=PASSWORD, role="reviewer", departments=["it"])
        db.session.commit()

        application = db.session.scalar(select(Application).where(Application.reference == reference))
        [assignment] = assign_reviewers(session=db.session, application=application)  # not committed yet
        picked = assignment.reviewer_id

        handovers = []

        def deactivate():
            with app.app_context():
                user = db.session.get(User, picked)
                handovers.append(update_user(session=db.session, user=user, by="admin@example.org", active=False))
                db.session.commit()

        admin = threading.Thread(target=deactivate)
        admin.start()
        # the deactivation is seen waiting on a row lock, not merely slow to start
        query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                     "AND wait_event_type = 'Lock'")

        def waiting() -> int:
            with observer.connect() as conn:
                return conn.execute(query).scalar()

        deadline = time.monotonic() + 10
        while admin.is_alive() and time.monotonic() < deadline and not waiting():
            time.sleep(0.05)
        assert admin.is_alive() and waiting() == 1, \
            "the deactivation did not wait for the assigning transaction"
        db.session.commit()
        admin.join(10)
        assert not admin.is_alive()

        [handover] = handovers
        assert (handover.moved, handover.unassigned) == (1, 0)
        holders = db.session.scalars(select(User).join(Assignment, Assignment.reviewer_id == User.id)
                                     .where(Assignment.reference == reference)).all()
        assert [(u.active, u.id != picked) for u in holders] == [(True, True)]
    observer.dispose()
    db.engine.dispose()
