"""Drafts: saved from the form, resumed from an emailed single-use link, submitted once, never an application
before; the form's address never holds the draft's secret."""
from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import func, select, update

from services.intake.access.models import Draft
from services.intake.access.tasks import purge_old_drafts
from services.intake.applications.models import Application
from services.intake.db import OUTBOX
from services.intake.portal.models import PortalLink
from shared.db import utcnow
from tests.factories import MOTIVATION
from tests.integration.intake.test_access_links import access_events, csrf_token, documents, emailed_path, submit


def draft_form(client, **fields) -> dict:
    return {"given_name": "Lena", "family_name": "Berg", "email": "lena.berg@example.org", "lang": "en",
            "csrf_token": csrf_token(client, "/apply?lang=en"), "action": "save_draft", **fields}


def save_draft(client, **fields):
    return client.post("/apply?lang=en", data=draft_form(client, **fields), content_type="multipart/form-data")


def full_form(client) -> dict:
    """The rest of the form, as the applicant completes it after coming back."""
    return {"given_name": "Lena", "family_name": "Berg", "email": "lena.berg@example.org",
            "date_of_birth": "2001-03-02", "nationality": "NO", "languages.en": "C1",
            "education.institution": "UiO", "education.degree_level": "master",
            "education.field_of_study": "Economics", "education.status": "enrolled", "education.year_of_study": "4",
            "department1": "finance", "session": "march", "correspondence_language": "en", "consent": "yes",
            "motivation": MOTIVATION, "lang": "en", "csrf_token": csrf_token(client, "/apply?lang=en")}


def count(session, what) -> int:
    return session.scalar(select(func.count()).select_from(what))


def test_a_saved_draft_is_emailed_and_is_not_an_application(client, session):
    response = save_draft(client, cv=(io.BytesIO(documents()[0]), "my-cv.pdf"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Draft saved" in page and "lena.berg@example.org" in page
    assert count(session, Application) == 0 and count(session, Draft) == 1
    [event] = access_events(session)
    assert event["purpose"] == "draft" and event["email"] == "lena.berg@example.org" and event["name"] == "Lena Berg"
    assert "/access/" in event["link"] and "draft" not in event["link"]
    # nothing for review: no application.submitted, no status change
    types = session.execute(select(OUTBOX.c.event_type)).scalars().all()
    assert types == ["application.access_requested"]


def test_the_link_brings_the_form_back_filled_in_and_submitting_it_makes_one_application(client, session, settings):
    save_draft(client, cv=(io.BytesIO(documents()[0]), "my-cv.pdf"))
    link = access_events(session)[0]["link"]
    reference = session.scalar(select(Draft.reference))

    # the applicant comes back later, in another browser, from the email
    browser = client.application.test_client()
    assert 'value="Lena"' not in browser.get("/apply?lang=en").get_data(as_text=True)
    opened = browser.get(emailed_path(link, settings))
    assert opened.status_code == 303 and opened.headers["Location"].endswith("/apply?lang=en")
    page = browser.get(opened.headers["Location"]).get_data(as_text=True)
    assert 'value="Lena"' in page and 'value="lena.berg@example.org"' in page
    assert "Kept with your draft: my-cv.pdf" in page
    assert 'name="draft"' not in page

    form = full_form(browser)
    form["academic_proof"] = (io.BytesIO(documents()[1]), "proof.pdf")
    submitted = browser.post("/apply?lang=en", data=form, content_type="multipart/form-data")
    assert submitted.status_code == 302, submitted.get_data(as_text=True)

    application = session.scalars(select(Application)).one()
    assert application.reference == reference and application.status == "submitted"
    assert sorted(d.kind for d in application.documents) == ["academic_proof", "cv"]
    assert application.document("cv").filename == "my-cv.pdf"
    assert count(session, Draft) == 0
    # the link served its purpose, and the form no longer holds the draft
    again = client.application.test_client().get(emailed_path(link, settings))
    assert again.status_code in (404, 410) and reference not in again.get_data(as_text=True)
    assert 'value="Lena"' not in browser.get("/apply?lang=en").get_data(as_text=True)


def test_a_draft_link_works_once(client, session, settings):
    save_draft(client)
    link = access_events(session)[0]["link"]
    assert client.application.test_client().get(emailed_path(link, settings)).status_code == 303
    used = client.application.test_client().get(emailed_path(link, settings))
    assert used.status_code == 410 and "already been used" in used.get_data(as_text=True)
    assert "Lena" not in used.get_data(as_text=True)


def test_a_mistake_on_submitting_a_draft_keeps_it(client, session, settings):
    save_draft(client, cv=(io.BytesIO(documents()[0]), "my-cv.pdf"))
    form = full_form(client)
    form["date_of_birth"] = "not a date"
    response = client.post("/apply?lang=en", data=form, content_type="multipart/form-data")
    assert response.status_code == 422
    assert count(session, Application) == 0 and count(session, Draft) == 1
    assert "Kept with your draft: my-cv.pdf" in response.get_data(as_text=True)


def test_a_draft_does_not_block_applying(client, session):
    save_draft(client, email="ana.popescu@example.org")
    submit(client)
    assert count(session, Application) == 1 and count(session, Draft) == 1


def test_saving_a_draft_needs_an_address_to_send_the_link_to(client, session):
    response = save_draft(client, email="not-an-address")
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert count(session, Draft) == 0 and access_events(session) == []


def test_saving_again_updates_the_same_draft(client, session, settings):
    save_draft(client)
    assert save_draft(client, given_name="Helena").status_code == 200
    draft = session.scalars(select(Draft)).one()
    assert draft.values["given_name"] == "Helena"


def test_drafts_left_longer_than_the_retention_are_purged(client, session, settings):
    save_draft(client)
    save_draft(client.application.test_client(), email="recent@example.org")
    old = utcnow() - timedelta(days=settings.draft_retention_days + 1)
    session.execute(update(Draft).where(Draft.email == "lena.berg@example.org").values(updated_at=old))
    assert purge_old_drafts.run() == 1
    assert session.scalars(select(Draft.email)).all() == ["recent@example.org"]


def test_an_expired_draft_link_says_so_and_sends_a_fresh_one(client, session, settings):
    save_draft(client)
    link = access_events(session)[0]["link"]
    session.execute(update(PortalLink).values(expires_at=utcnow() - timedelta(minutes=1)))
    session.commit()
    browser = client.application.test_client()
    response = browser.get(emailed_path(link, settings).replace("lang=en", "lang=fr"))
    text = response.get_data(as_text=True)
    assert response.status_code == 410 and "Ce lien a expiré" in text
    secret = emailed_path(link, settings).split("/access/", 1)[1].split("?", 1)[0]
    token = csrf_token(browser, emailed_path(link, settings))
    assert browser.post("/access/fresh?lang=fr", data={"secret": secret, "csrf_token": token}).status_code == 200
    fresh = access_events(session)[-1]
    assert fresh["purpose"] == "draft" and fresh["email"] == "lena.berg@example.org" and fresh["link"] != link
    assert browser.get(emailed_path(fresh["link"], settings)).status_code == 303


def test_a_drafts_file_replaced_by_a_plain_one_is_asked_for_again_never_a_server_error(client, session, settings):
    save_draft(client, cv=(io.BytesIO(documents()[0]), "my-cv.pdf"))
    key = session.scalars(select(Draft)).one().documents["cv"]["key"]
    # someone with write access to the store puts an unencrypted file in the kept one's place
    (settings.documents_dir / key).write_bytes(documents()[0])
    form = full_form(client)
    form["academic_proof"] = (io.BytesIO(documents()[1]), "proof.pdf")
    response = client.post("/apply?lang=en", data=form, content_type="multipart/form-data")
    assert response.status_code == 422 and "Attach your curriculum vitae." in response.get_data(as_text=True)
    assert count(session, Application) == 0
