import io
import json
import re

from sqlalchemy import func, select

from services.intake.applications.models import Application
from services.intake.applications.tasks import check_application, handle_event
from services.intake.db import OUTBOX
from services.intake.dossier.tasks import render_dossier_task
from shared.bus.relay import task_arguments
from shared.events import make_event
from tests.factories import application_payload, make_docx, multipart


def submit(client, data, **headers):
    return client.post("/api/v1/applications", data=data, content_type="multipart/form-data", headers=headers)


def outbox_rows(session):
    return session.execute(select(OUTBOX).order_by(OUTBOX.c.id)).all()


def test_programme_describes_the_open_call(client):
    body = client.get("/api/v1/programme").get_json()
    assert body["name"] == "NATO Internship Programme 2027"
    assert [d["code"] for d in body["departments"]] == ["polsci", "comms", "finance", "it", "hr"]
    assert {d["kind"] for d in body["documents"] if d["required"]} == {"cv", "academic_proof"}
    assert body["sessions"] == ["march", "september"]


def test_eligible_application_is_accepted_with_reference_and_token(client, pdf, proof):
    response = submit(client, multipart(cv=pdf, academic_proof=proof))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "submitted"
    assert body["reference"].startswith("NIP27-") and len(body["token"]) == 64
    status = client.get(f"/api/v1/applications/{body['reference']}",
                        headers={"Authorization": f"Bearer {body['token']}"}).get_json()
    assert status["status"] == "submitted"
    assert [h["new"] for h in status["history"]] == ["submitted"]
    assert {d["kind"] for d in status["documents"]} == {"cv", "academic_proof"}


def test_submission_writes_events_and_the_check_to_the_outbox(client, session, pdf, proof):
    reference = submit(client, multipart(cv=pdf, academic_proof=proof)).get_json()["reference"]
    rows = outbox_rows(session)
    assert [(r.task, r.event_type) for r in rows] == [
        ("review.handle_event", "application.status_changed"),
        ("notify.handle_event", "application.status_changed"),
        ("review.handle_event", "application.submitted"),
        ("intake.check_application", None),
    ]
    args, correlation = task_arguments(rows[-1])
    assert args == [reference] and correlation  # the check joins the submitting request's chain


def test_check_then_render_moves_an_eligible_application_to_review(client, session, pdf, proof, settings):
    reference = submit(client, multipart(cv=pdf, academic_proof=proof)).get_json()["reference"]
    assert check_application.run(reference) == "under_review"
    assert check_application.run(reference) is None  # a redelivered check changes nothing
    key = render_dossier_task.run(reference)
    application = session.scalars(select(Application).where(Application.reference == reference)).one()
    assert [h.new for h in application.history] == ["submitted", "checking", "under_review"]
    assert (settings.documents_dir / key).is_file()
    types = [r.event_type for r in outbox_rows(session)]
    assert types.count("application.checked") == 1 and types.count("dossier.rendered") == 1


def test_ineligible_applicant_gets_reason_codes(client, session, pdf, proof):
    payload = application_payload(nationality="JP", date_of_birth="2010-01-01", email="young@example.org",
                                  languages={"en": "B1"})
    reference = submit(client, multipart(payload, cv=pdf, academic_proof=proof)).get_json()["reference"]
    assert check_application.run(reference) == "ineligible"
    application = session.scalars(select(Application).where(Application.reference == reference)).one()
    assert {p["code"] for p in application.problems} == {
        "too_young", "nationality_not_eligible", "language_level_insufficient"}


def test_released_decision_changes_status_once(client, session, pdf, proof):
    reference = submit(client, multipart(cv=pdf, academic_proof=proof)).get_json()["reference"]
    check_application.run(reference)
    event = make_event("decision.released", {"reference": reference, "decision": "shortlisted",
                                             "reason_code": "strong_profile", "released_by": "admin@example.org"},
                       producer="review")
    assert handle_event.run(event) is True
    assert handle_event.run(event) is False
    application = session.scalars(select(Application).where(Application.reference == reference)).one()
    assert application.status == "shortlisted"
    changes = [r for r in outbox_rows(session) if r.event_type == "application.status_changed"]
    assert len(changes) == 2 * 3  # submitted, under_review, shortlisted; each to review and notify


def test_docx_cv_is_accepted(client, proof):
    data = multipart(academic_proof=proof)
    data["cv"] = (io.BytesIO(make_docx()), "cv.docx")
    assert submit(client, data).status_code == 201


def test_idempotent_replay_returns_the_same_application(client, session, pdf, proof):
    first = submit(client, multipart(cv=pdf, academic_proof=proof), **{"Idempotency-Key": "k-1"})
    again = submit(client, multipart(cv=pdf, academic_proof=proof), **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert session.scalar(select(func.count()).select_from(Application)) == 1
    other = submit(client, multipart(application_payload(given_name="Other"), cv=pdf, academic_proof=proof),
                   **{"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "idempotency_key_reused"


def test_same_person_cannot_apply_twice(client, session, pdf, proof):
    """A second application by the same person stores nothing, and its answer looks like a first one (no one
    learns from it whether someone applied): the owner of the application is emailed a link to it instead."""
    first = submit(client, multipart(cv=pdf, academic_proof=proof))
    assert first.status_code == 201
    owner = first.get_json()
    answers = [submit(client, multipart(application_payload(email="Ana.Popescu@Example.org"), cv=pdf,
                                        academic_proof=proof)),
               # the same name and date of birth from another address
               submit(client, multipart(application_payload(email="other@example.org"), cv=pdf,
                                        academic_proof=proof))]
    for again in answers:
        body = again.get_json()
        assert again.status_code == 201 and set(body) == set(owner) and body["status"] == "submitted"
        assert again.headers["Idempotent-Replayed"] == first.headers["Idempotent-Replayed"] == "false"
        assert re.fullmatch(r"NIP27-[A-Z0-9]{4}-[A-Z0-9]{4}", body["reference"]) and len(body["token"]) == 64
        assert body["reference"] != owner["reference"] and body["token"] != owner["token"]
        assert body["status_url"].endswith(f"/api/v1/applications/{body['reference']}")
    assert session.scalar(select(func.count()).select_from(Application)) == 1
    assert not [row for row in outbox_rows(session) for again in answers
                if again.get_json()["reference"] in row.body]

    told = [json.loads(row.body)[0]["data"] for row in outbox_rows(session)
            if row.event_type == "application.access_requested"]
    assert [(e["reference"], e["email"], e["purpose"]) for e in told] == \
        [(owner["reference"], "ana.popescu@example.org", "duplicate")] * 2
    assert all("/access/" in e["link"] for e in told)
