"""A status change's event carries what the candidate reads (reasons in sentences, departments by name, in their
language), and notify's email says exactly that: never the codes behind it."""
from __future__ import annotations

import json

from sqlalchemy import select

from services.intake.applications.models import Application
from services.intake.applications.status import change_status
from services.intake.applications.tasks import check_application
from services.intake.db import OUTBOX
from services.notify.deliveries.rendering import render_email
from services.notify.deliveries.service import status_context
from shared.documents import DocumentStore
from shared.events import load_event
from tests.factories import application_payload, make_pdf, multipart


def submit(client, **overrides) -> str:
    data = multipart(application_payload(**overrides), cv=make_pdf("CV"), academic_proof=make_pdf("Proof"))
    response = client.post("/api/v1/applications", data=data, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["reference"]


def status_events(session, reference: str) -> list[dict]:
    """The `application.status_changed` envelopes intake wrote for `reference`, as a consumer loads them."""
    rows = session.execute(select(OUTBOX.c.body).where(OUTBOX.c.event_type == "application.status_changed")
                           .order_by(OUTBOX.c.id)).scalars()
    events = [load_event(json.loads(body)[0]) for body in rows]
    return [event for event in events if event["data"]["reference"] == reference]


def test_an_ineligible_candidate_reads_the_reasons_in_french(app, client, session, settings):
    reference = submit(client, correspondence_language="fr", date_of_birth="2010-01-01", languages={"en": "B1"},
                       education={**application_payload()["education"], "degree_level": "bachelor",
                                  "year_of_study": 1}, departments=["it", "polsci"])

    assert check_application.run(reference) == "ineligible"

    data = status_events(session, reference)[-1]["data"]
    assert (data["new"], data["language"]) == ("ineligible", "fr")
    assert data["reason"] == "too_young, insufficient_study, language_level_insufficient"  # the code, as data
    assert data["reasons"] == [
        "Les candidats doivent avoir au moins 21 ans le 31 janvier 2027.",
        "Les étudiants doivent avoir accompli au moins 2 années d’études au 31 janvier 2027.",
        "Un niveau B2 ou supérieur en anglais ou en français est exigé.",
    ]
    assert data["department_names"] == ["Technologies de l'information et cybersécurité",
                                        "Science politique et relations internationales"]
    assert data["link"].startswith(settings.intake_url) and data["link_expires_at"] is not None

    email = render_email(status="ineligible", language="fr", context=status_context(data, settings.intake_url))
    text = email.text
    assert "Les règles que votre candidature ne remplit pas :\n" \
           "- Les candidats doivent avoir au moins 21 ans le 31 janvier 2027.\n" in text
    for sentence in data["reasons"]:
        assert sentence in text and f"<li>{sentence}</li>" in email.html
    for body in (email.subject, text, email.html):
        for code in ("too_young", "insufficient_study", "language_level_insufficient", "Motif", "ineligible"):
            assert code not in body
    assert data["link"] in text and "(heure de Bruxelles)" in text


def test_an_incomplete_candidate_reads_which_document_is_missing(app, client, session, settings):
    proof = make_pdf("Proof that goes missing")
    data = multipart(application_payload(), cv=make_pdf("CV"), academic_proof=proof)
    reference = client.post("/api/v1/applications", data=data, content_type="multipart/form-data") \
        .get_json()["reference"]
    store = DocumentStore(settings.documents_dir)
    for key in store.keys():
        if store.read(key) == proof:
            (settings.documents_dir / key).unlink()

    assert check_application.run(reference) == "incomplete"

    data = status_events(session, reference)[-1]["data"]
    assert (data["reason"], data["reasons"]) == (
        "document_unavailable", ["Proof of studies or degree could not be found; upload it again."])
    email = render_email(status="incomplete", language="en", context=status_context(data, settings.intake_url))
    assert "What we found:\n- Proof of studies or degree could not be found; upload it again.\n" in email.text
    assert "document_unavailable" not in email.text + email.html


def test_a_reviewers_reason_code_gives_the_candidate_no_reasons(app, client, session, settings):
    reference = submit(client, departments=["finance"])
    application = session.scalar(select(Application).where(Application.reference == reference))
    for status in ("checking", "under_review"):
        change_status(session=session, application=application, new=status, actor="worker")
    change_status(session=session, application=application, new="shortlisted", actor="review:office@example.org",
                  reason="strong_profile")
    session.flush()

    data = status_events(session, reference)[-1]["data"]
    assert (data["new"], data["reason"], data["reasons"]) == ("shortlisted", "strong_profile", [])
    email = render_email(status="shortlisted", language="en", context=status_context(data, settings.intake_url))
    assert "The department you chose, Finance and business administration, will contact you" in email.text
    assert "strong_profile" not in email.text + email.html and "concerned" not in email.text
