from datetime import timedelta

from sqlalchemy import select, update

from services.intake.applications.models import Application
from services.intake.applications.tasks import check_application, sweep_stuck
from services.intake.db import OUTBOX
from shared.bus.relay import task_arguments
from shared.db import utcnow
from tests.factories import multipart


def queued_tasks(session):
    return [(row.task, task_arguments(row)[0]) for row in session.execute(
        select(OUTBOX).where(OUTBOX.c.event_id.is_(None)).order_by(OUTBOX.c.id))]


def test_sweeper_asks_again_for_a_lost_check_and_a_lost_render(client, session, pdf, proof):
    stuck = client.post("/api/v1/applications", data=multipart(cv=pdf, academic_proof=proof),
                        content_type="multipart/form-data").get_json()["reference"]
    assert sweep_stuck.run() == 0  # fresh work is left alone
    long_ago = utcnow() - timedelta(hours=1)
    session.execute(update(Application).values(updated_at=long_ago))
    session.commit()
    assert sweep_stuck.run() == 1
    assert queued_tasks(session)[-1] == ("intake.check_application", [stuck])

    check_application.run(stuck)
    session.execute(update(Application).values(checked_at=long_ago, updated_at=long_ago))
    session.commit()
    assert sweep_stuck.run() == 1
    assert queued_tasks(session)[-1] == ("intake.render_dossier", [stuck])
