"""A withdrawn application leaves room for a new one; a second active application is still refused (silently:
its owner is emailed)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from services.intake.applications.models import Application
from services.intake.db import OUTBOX
from tests.factories import application_payload, multipart


@pytest.fixture
def post(client, pdf, proof):
    def post(**overrides):
        data = multipart(application_payload(**overrides), cv=pdf, academic_proof=proof)
        return client.post("/api/v1/applications", data=data, content_type="multipart/form-data")
    return post


def withdraw(client, body: dict):
    response = client.post(f"/api/v1/applications/{body['reference']}/withdraw",
                           headers={"Authorization": f"Bearer {body['token']}"})
    assert response.status_code == 200


def test_after_withdrawing_the_same_person_can_apply_again(client, session, post):
    first = post().get_json()
    withdraw(client, first)
    second = post(departments=["it"])
    assert second.status_code == 201
    assert second.get_json()["reference"] != first["reference"]
    statuses = dict(session.execute(select(Application.reference, Application.status)).all())
    assert statuses == {first["reference"]: "withdrawn", second.get_json()["reference"]: "submitted"}


@pytest.mark.parametrize("same_person", [
    {},  # the same address
    {"email": "another.address@example.org"},  # the same name and date of birth
])
def test_a_second_active_application_is_refused(client, session, post, same_person):
    first = post().get_json()
    withdraw(client, first)
    second = post()
    assert second.status_code == 201
    third = post(**same_person)
    # refused without saying so: the answer has a first submission's shape, and nothing is stored
    assert third.status_code == 201 and set(third.get_json()) == set(second.get_json())
    assert third.get_json()["status"] == "submitted" and third.get_json()["reference"] not in (
        first["reference"], second.get_json()["reference"])
    assert session.scalar(select(func.count()).select_from(Application)) == 2
    # the active application's owner is told, with a link to it
    told = [json.loads(body)[0]["data"] for body in session.scalars(
        select(OUTBOX.c.body).where(OUTBOX.c.event_type == "application.access_requested"))]
    assert [(e["reference"], e["email"], e["purpose"]) for e in told] == [
        (second.get_json()["reference"], "ana.popescu@example.org", "duplicate")]


def test_the_database_keeps_one_active_application_per_address(session, post):
    post()
    row = session.execute(select(Application.__table__)).mappings().one()
    copy = {**{k: v for k, v in row.items() if k != "id"}, "reference": "NIP27-TEST-COPY", "idempotency_key": None}
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(insert(Application.__table__).values(**copy))
    session.execute(insert(Application.__table__).values(**{**copy, "status": "withdrawn"}))
    assert len(session.scalars(select(Application.id)).all()) == 2
