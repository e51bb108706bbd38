"""A second active application of the same person (two submissions at the same moment pass the refusal at
submission) is flagged by intake's check for staff only, and review's duplicate filter finds it."""
from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import select, update

from services.intake import create_app as create_intake_app
from services.intake.applications.models import Application as IntakeApplication
from services.intake.applications.service import name_key
from services.intake.applications.tasks import check_application
from services.intake.db import OUTBOX, db as intake_db
from services.intake.programme.service import seed_call
from services.review.applications.tasks import handle_event
from tests.conftest import migrated_database, rolled_back
from tests.factories import application_payload, make_pdf, multipart, open_portal

from .conftest import bearer, token_for


@pytest.fixture(scope="module")
def intake_database_url():
    return migrated_database("intake", "_review_duplicates")


@pytest.fixture
def intake(settings, intake_database_url):
    app = create_intake_app(dataclasses.replace(settings, intake_database_url=intake_database_url))
    app.config["TESTING"] = True
    with rolled_back(intake_db), app.app_context():
        seed_call(session=intake_db.session, deadline=settings.call_deadline)
        intake_db.session.commit()
        yield app


def submit(intake, **overrides) -> dict:
    response = intake.test_client().post("/api/v1/applications", content_type="multipart/form-data", data=multipart(
        application_payload(**overrides), cv=make_pdf("CV"), academic_proof=make_pdf("Proof")))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def to_review() -> list[dict]:
    """Every event intake queued for review, oldest first."""
    bodies = intake_db.session.scalars(select(OUTBOX.c.body).where(OUTBOX.c.task == "review.handle_event")
                                       .order_by(OUTBOX.c.id))
    return [json.loads(body)[0] for body in bodies]


def test_a_second_application_of_the_same_person_is_flagged_for_staff_and_found_by_reviews_filter(
        intake, app, admin):
    first = submit(intake)
    second = submit(intake, given_name="Anna", email="ana.p@example.org")
    other = submit(intake, given_name="Ioana", email="ioana@example.org")
    # what two simultaneous submissions leave behind: the name and birth date have no unique index
    intake_db.session.execute(update(IntakeApplication).where(IntakeApplication.reference == second["reference"])
                              .values(given_name="Ana", name_key=name_key("Ana", "Popescu")))
    intake_db.session.commit()
    # a flag, not a refusal: all are under review all the same
    assert [check_application.run(a["reference"]) for a in (first, second, other)] == ["under_review"] * 3

    checked = {e["data"]["reference"]: e["data"] for e in to_review() if e["type"] == "application.checked"}
    for flagged, named in ((second, first), (first, second)):
        (flag,) = checked[flagged["reference"]]["problems"]
        assert flag["code"] == "possible_duplicate" and named["reference"] in flag["message"]
        assert checked[flagged["reference"]]["complete"] is True and checked[flagged["reference"]]["eligible"] is True
    assert checked[other["reference"]]["problems"] == []
    # staff only: the applicant's status page does not list it
    with intake.app_context():
        status = open_portal(intake.test_client(), second["reference"])
    assert status.status_code == 200 and first["reference"] not in status.get_data(as_text=True)

    with app.app_context():
        assert all(handle_event(envelope) for envelope in to_review())
    client = app.test_client()
    headers = bearer(token_for(client, admin))

    def listed(query: str) -> set[str]:
        return {i["reference"] for i in client.get(f"/api/v1/applications?{query}", headers=headers)
                .get_json()["items"]}
    assert listed("duplicate=true") == {first["reference"], second["reference"]}
    assert listed("duplicate=false") == {other["reference"]}
    detail = client.get(f"/api/v1/applications/{second['reference']}", headers=headers).get_json()
    assert detail["duplicate"] is True and detail["status"] == "under_review"
