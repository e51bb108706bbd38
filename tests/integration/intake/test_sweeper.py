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


def test_a_check_is_asked_for_again_sooner_when_no_work_waits(app, client, session, pdf, proof):
    lost = client.post("/api/v1/applications", data=multipart(cv=pdf, academic_proof=proof),
                       content_type="multipart/form-data").get_json()["reference"]
    a_while_ago = utcnow() - timedelta(minutes=4)  # past LOST_AFTER, well before STUCK_AFTER
    session.execute(update(Application).values(updated_at=a_while_ago))
    session.commit()
    assert sweep_stuck.run() == 0  # its check still waits in the outbox: in line, not lost

    session.execute(update(OUTBOX).values(sent_at=utcnow()))  # relayed...
    session.commit()
    celery = app.extensions["celery"]
    with celery.connection_for_write() as connection:  # ...and behind other checks in the queue
        connection.default_channel.basic_publish(
            connection.default_channel.prepare_message("{}"), exchange="", routing_key="intake.checks")
        assert sweep_stuck.run() == 0
        connection.default_channel.basic_get("intake.checks", no_ack=True)
    assert sweep_stuck.run() == 1  # nothing waits: the check was lost on the way
    assert queued_tasks(session)[-1] == ("intake.check_application", [lost])
