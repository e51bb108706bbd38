"""One correlation id follows an application from the request that submitted it through intake, review and notify."""
from __future__ import annotations

import dataclasses
import logging
import secrets

import pytest

from services.notify.mailcatcher import MailCatcher, free_port
from shared.logging import ContextFields
from tests.conftest import migrated_database
from tests.factories import application_payload, make_pdf, multipart
from tests.integration.test_backup import make_apps, outbox_events, stack_settings


@pytest.fixture
def apps(settings, tmp_path):
    urls = {service: migrated_database(service, "_trace") for service in ("intake", "review", "notify")}
    stack = stack_settings(dataclasses.replace(settings, smtp_port=free_port()), tmp_path, urls, "trace")
    return make_apps(stack), stack


@pytest.fixture
def intake(settings):
    """Intake alone (its answers below come before any query)."""
    from services.intake import create_app

    return create_app(settings)


@pytest.fixture
def lines(caplog):
    """Every log record, with the context's fields as the JSON formatter would add them."""
    caplog.handler.addFilter(ContextFields())
    caplog.set_level(logging.INFO)
    return caplog


def test_a_submissions_request_id_is_in_every_services_log_lines_and_email(apps, lines):
    from services.intake.db import db as intake_db
    from services.intake.programme.service import seed_call
    from services.notify.deliveries.tasks import handle_event as notify_handle
    from services.review.applications.tasks import handle_event as review_handle

    apps, settings = apps
    with apps["intake"].app_context():
        seed_call(session=intake_db.session, deadline=settings.call_deadline)
        intake_db.session.commit()
    request_id = f"trace-{secrets.token_hex(8)}"
    payload = application_payload(email=f"trace-{secrets.token_hex(4)}@example.org")

    response = apps["intake"].test_client().post(
        "/api/v1/applications", headers={"X-Request-ID": request_id}, content_type="multipart/form-data",
        data=multipart(payload, cv=make_pdf("CV"), academic_proof=make_pdf("Diploma")))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["X-Request-ID"] == request_id
    reference = response.get_json()["reference"]

    with apps["review"].app_context():
        review_events = outbox_events(apps["intake"], intake_db, "review.events")
        for event in review_events:
            review_handle.run(event)
    with MailCatcher(settings.mail_dir, port=settings.smtp_port), apps["notify"].app_context():
        notify_events = outbox_events(apps["intake"], intake_db, "notify.email")
        for event in notify_events:
            notify_handle.run(event)

    assert {e["correlation_id"] for e in review_events + notify_events} == {request_id}
    traced = [r for r in lines.records if getattr(r, "correlation_id", None) == request_id]
    seen = {(r.getMessage(), getattr(r, "task", None)) for r in traced}
    assert ("request", None) in seen  # intake's request line
    assert ("event handled", "review.handle_event") in seen
    assert ("event handled", "notify.handle_event") in seen
    assert "email sent" in {message for message, _ in seen}
    assert {getattr(r, "reference", None) for r in traced if r.getMessage() != "request"} == {reference}
    # our lines hold the reference, never the address (aiosmtpd's "mail.log" is the test's SMTP server talking)
    ours = [r for r in lines.records if r.name != "mail.log"]
    assert [r.getMessage() for r in ours if payload["email"] in r.getMessage() + str(vars(r))] == []


def test_an_unusable_request_id_is_replaced_by_a_fresh_one(intake):
    client = intake.test_client()

    for given in ("", "has spaces", "x" * 65, "<script>", "id;forged=1"):
        first = client.get("/healthz", headers={"X-Request-ID": given})
        second = client.get("/healthz", headers={"X-Request-ID": given})

        assert first.headers["X-Request-ID"] != given and len(first.headers["X-Request-ID"]) == 32
        assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_a_request_refused_before_its_view_still_answers_with_its_id(intake):
    client = intake.test_client()

    refused = client.get("/api/v1/programme?q=%00", headers={"X-Request-ID": "client-retry-7"})

    assert refused.status_code == 400 and refused.headers["X-Request-ID"] == "client-retry-7"
