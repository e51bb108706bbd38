import dataclasses

import pytest

from services.intake import create_app
from services.intake.db import db
from services.intake.programme.service import seed_call
from tests.conftest import migrated_database, rolled_back
from tests.factories import make_pdf


@pytest.fixture(scope="session")
def intake_database_url():
    return migrated_database("intake")


@pytest.fixture
def app(settings, intake_database_url):
    app = create_app(dataclasses.replace(settings, intake_database_url=intake_database_url))
    app.config["TESTING"] = True
    with rolled_back(db), app.app_context():
        yield app


@pytest.fixture
def session(app):
    return db.session


@pytest.fixture
def call(app, settings):
    call = seed_call(session=db.session, deadline=settings.call_deadline)
    db.session.commit()
    return call


@pytest.fixture
def client(app, call):
    return app.test_client()


@pytest.fixture(scope="session")
def pdf():
    return make_pdf("Curriculum vitae", pages=2)


@pytest.fixture(scope="session")
def proof():
    return make_pdf("Certificate of enrolment", pages=1)
