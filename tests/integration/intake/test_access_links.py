""""Find my application": the same answer for every address, a single-use expiring portal link when it is known."""
from __future__ import annotations

import functools
import hashlib
import json
import re

from flask import g
from datetime import timedelta

from sqlalchemy import select, update

from services.intake.db import OUTBOX
from services.intake.portal import links as portal_links
from services.intake.portal.models import PortalLink
from shared.db import utcnow
from tests.factories import application_payload, link_path, make_pdf, multipart

ANSWER = {"message": "If an application was sent from this address, a link to it is on its way by email."}


@functools.cache
def documents() -> tuple[bytes, bytes]:
    return make_pdf("CV"), make_pdf("Proof")


def submit(client, **overrides) -> dict:
    cv, proof = documents()
    data = multipart(application_payload(**overrides), cv=cv, academic_proof=proof)
    response = client.post("/api/v1/applications", data=data, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def access_events(session) -> list[dict]:
    rows = session.execute(select(OUTBOX.c.body).where(OUTBOX.c.event_type == "application.access_requested")
                           .order_by(OUTBOX.c.id)).scalars()
    return [json.loads(body)[0]["data"] for body in rows]


def csrf_token(client, path: str) -> str:
    # the fixture's one app context serves every request, and Flask-WTF caches the token on `g`: a real
    # server's request (or another browser) starts without it
    g.pop("csrf_token", None)
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def emailed_path(link: str, settings) -> str:
    assert link.startswith(settings.intake_url)
    return link[len(settings.intake_url):]


def test_known_and_unknown_addresses_get_the_same_answer_before_any_lookup(client, session, settings):
    submit(client, email="Known.Person@example.org", correspondence_language="fr")
    answers = []
    for email in ("nobody@example.org", "known.person@EXAMPLE.org"):
        response = client.post("/api/v1/access-links", json={"email": email}, buffered=False)
        # the answer is complete before the address is looked up: nothing is queued until it has been sent
        answers.append((response.status_code, response.get_data(), access_events(session)))
        response.close()
    assert answers[0] == answers[1] == (202, answers[0][1], [])
    assert json.loads(answers[0][1]) == ANSWER

    sent = access_events(session)
    assert len(sent) == 1
    assert sent[0]["email"] == "Known.Person@example.org" and sent[0]["purpose"] == "status"
    # a single-use portal link in the application's language, its secret alone in the path
    assert sent[0]["language"] == "fr"
    assert re.fullmatch(r"/access/[A-Za-z0-9_-]{43}\?lang=fr", emailed_path(sent[0]["link"], settings))


def test_the_emailed_link_opens_the_portal_and_the_address_then_carries_no_secret(client, session, settings):
    created = submit(client)
    client.post("/api/v1/access-links", json={"email": "ana.popescu@example.org"}).close()
    link = access_events(session)[0]["link"]
    assert created["token"] not in link
    path = emailed_path(link, settings)
    secret = path.split("/access/", 1)[1].split("?", 1)[0]

    opened = client.get(path)
    assert opened.status_code == 303 and opened.headers["Referrer-Policy"] == "no-referrer"
    location = opened.headers["Location"]
    assert location.endswith(f"/status/{created['reference']}?lang=en")
    assert secret not in location and created["token"] not in location and "token" not in location
    page = client.get(location)
    assert page.status_code == 200 and created["reference"] in page.get_data(as_text=True)
    assert secret not in page.get_data(as_text=True) and created["token"] not in page.get_data(as_text=True)


def test_an_expired_link_is_refused_with_a_page_that_offers_a_fresh_one(client, session):
    created = submit(client)
    link, _expires = portal_links.mint(session=session, reference=created["reference"], language="en")
    secret = link_path(link).split("/access/", 1)[1].split("?", 1)[0]
    session.execute(update(PortalLink).where(PortalLink.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest())
                    .values(expires_at=utcnow() - timedelta(minutes=1)))
    session.commit()

    response = client.get(link_path(link))
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert "has expired" in page and "Email me a fresh link" in page and "/access/fresh" in page
    assert created["reference"] not in page
    # and it opened nothing
    assert client.get(f"/status/{created['reference']}").status_code == 401


def test_a_tampered_or_foreign_link_is_not_valid(client, session, settings):
    created = submit(client)
    link, _expires = portal_links.mint(session=session, reference=created["reference"], language="en")
    session.commit()
    secret = link_path(link).split("/access/", 1)[1].split("?", 1)[0]
    tampered = secret[:-2] + ("xx" if not secret.endswith("xx") else "yy")
    for bad in (tampered, "not-one-of-ours", created["token"], "x" * 400):
        response = client.get(f"/access/{bad}?lang=en")
        assert response.status_code == 404 and "not valid" in response.get_data(as_text=True), bad
        assert created["reference"] not in response.get_data(as_text=True)
    # the old signed status links are gone
    assert client.get(f"/access/status/{created['token']}?lang=en").status_code == 404
    assert client.get(f"/status/{created['reference']}").status_code == 401
    # none of them spent the real link
    assert client.get(link_path(link)).status_code == 303


def test_bad_requests_get_a_clear_json_error(client):
    invalid = client.post("/api/v1/access-links", json={"email": "not an address"})
    assert invalid.status_code == 422 and set(invalid.get_json()["error"]["fields"]) == {"email"}
    unknown_field = client.post("/api/v1/access-links", json={"email": "a@example.org", "reference": "X"})
    assert unknown_field.status_code == 422
    not_json = client.post("/api/v1/access-links", data="email=a@example.org")
    assert not_json.status_code == 400 and not_json.get_json()["error"]["code"] == "malformed_json"


def test_find_my_application_page_answers_the_same_and_emails_the_known(client, session):
    submit(client)
    pages = []
    for email in ("someone.else@example.org", "ana.popescu@example.org"):
        response = client.post("/find?lang=en", data={"email": email, "csrf_token": csrf_token(client, "/find")},
                               buffered=False)
        pages.append((response.status_code, response.get_data(as_text=True), access_events(session)))
        response.close()
    assert pages[0] == pages[1] and pages[0][0] == 200 and pages[0][2] == []
    assert "Check your email" in pages[0][1]
    assert [event["purpose"] for event in access_events(session)] == ["status"]

    wrong = client.post("/find?lang=en", data={"email": "nope", "csrf_token": csrf_token(client, "/find")})
    assert wrong.status_code == 422 and "Enter a valid email address." in wrong.get_data(as_text=True)
