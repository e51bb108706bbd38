"""A database connection cut after a request's last statement, before the request ends: the answer already
made is the one the client gets (never a 500 from closing the session), and the thread's next request is
served on a fresh connection.

Not in a rolled-back transaction: the cut must hit the real connection the request read on.
"""
import dataclasses

import pytest
from sqlalchemy import create_engine, text

from services.intake import create_app
from services.intake.db import db
from services.intake.programme.service import seed_call
from tests.conftest import migrated_database
from tests.factories import application_payload, make_pdf, multipart


@pytest.fixture
def cut_app(settings):
    url = migrated_database("intake", "_cut")
    app = create_app(dataclasses.replace(settings, intake_database_url=url))
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    cuts = []

    @app.after_request
    def _cut(response):
        # the answer is made and the request's transaction is still open: the server ends the connection
        if db.session().in_transaction():
            backend = db.session.connection().connection.dbapi_connection.info.backend_pid
            with admin.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            cuts.append(backend)
        return response

    with app.app_context():
        seed_call(session=db.session, deadline=settings.call_deadline)
        db.session.commit()
        db.session.remove()
    yield app, cuts
    admin.dispose()
    db.engine.dispose()


def test_a_cut_after_the_answer_is_made_leaves_the_answer_and_the_next_request_alone(cut_app):
    app, cuts = cut_app
    client = app.test_client()

    answer = client.get("/api/v1/programme")
    assert answer.status_code == 200 and answer.json["code"]

    # refused after reading (no proof of studies): the refusal is the answer, with nothing stored
    refused = client.post("/api/v1/applications", data=multipart(application_payload(), cv=make_pdf("CV")),
                          content_type="multipart/form-data")
    assert refused.status_code == 422, refused.json
    assert refused.json["error"]["code"] == "invalid_documents"
    assert not db.session.registry.has()  # the thread's session was let go, not kept with a dead connection

    assert client.get("/api/v1/programme").status_code == 200
    assert len(cuts) == 3 and len(set(cuts)) == 3  # each request read on a connection of its own
