"""The application form is protected against cross-site posts; the JSON API stays bearer-based."""
import io
import re
import secrets

import pytest
from flask import Flask
from flask_wtf.csrf import CSRFProtect, generate_csrf
from sqlalchemy import func, select

from services.intake.applications.models import Application
from tests.factories import MOTIVATION, make_pdf, multipart


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def form(**extra) -> dict:
    """What a browser posts from the English form, filled in."""
    fields = {"given_name": "Lena", "family_name": "Berg", "email": "lena@example.org", "date_of_birth": "2001-03-02",
              "nationality": "no", "languages.en": "C1", "education.institution": "UiO",
              "education.degree_level": "master", "education.field_of_study": "Economics",
              "education.status": "enrolled", "education.year_of_study": "4", "department1": "finance",
              "session": "march", "correspondence_language": "en", "consent": "yes", "motivation": MOTIVATION,
              "lang": "en", **extra}
    fields["cv"] = (io.BytesIO(make_pdf("CV")), "cv.pdf")
    fields["academic_proof"] = (io.BytesIO(make_pdf("Proof")), "proof.pdf")
    return fields


def post_form(client, data, **kwargs):
    return client.post("/apply?lang=en", data=data, content_type="multipart/form-data", **kwargs)


def stored(session) -> int:
    return session.scalar(select(func.count()).select_from(Application))


def test_form_with_its_token_is_accepted(client, session):
    token = csrf_token(client.get("/apply").get_data(as_text=True))

    response = post_form(client, form(csrf_token=token))

    assert response.status_code == 302 and response.headers["Location"].endswith("/apply/received?lang=en")
    assert stored(session) == 1


def test_form_without_a_token_is_refused_with_a_clear_message_and_keeps_the_answers(client, session):
    client.get("/apply")  # the visitor has a session; the attacker's page just cannot read its token

    response = post_form(client, form())

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "This form has expired or was not sent from our site" in html
    assert 'value="lena@example.org"' in html  # only the files must be attached again
    assert csrf_token(html)  # and a fresh token to submit with
    assert stored(session) == 0


def test_refusal_is_in_french_on_the_french_form(client, session):
    response = client.post("/apply?lang=fr", data=form(lang="fr"), content_type="multipart/form-data")

    assert response.status_code == 400
    assert "Ce formulaire a expiré" in response.get_data(as_text=True)
    assert stored(session) == 0


@pytest.mark.parametrize("token", ["", "x", "IjAwMDAi.ZZZZZZ.AAAAAAAAAAAAAAAAAAAAAAAAAAA", "é" * 40])
def test_forged_tokens_are_refused(client, session, token):
    client.get("/apply")

    assert post_form(client, form(csrf_token=token)).status_code == 400
    assert stored(session) == 0


def test_a_token_from_another_visitors_session_is_refused(app, client, session):
    """The attacker fetches the form themselves and plants their token in the victim's post."""
    attacker = app.test_client()
    stolen = csrf_token(attacker.get("/apply").get_data(as_text=True))
    client.get("/apply")

    assert post_form(client, form(csrf_token=stolen)).status_code == 400
    assert stored(session) == 0


def test_a_token_and_session_signed_with_another_key_are_refused(client, session):
    """A pair minted with any key but intake's own (another service's, a guessed one) does not pass."""
    outsider = Flask(__name__)
    outsider.config["SECRET_KEY"] = secrets.token_urlsafe(32)
    CSRFProtect(outsider)
    outsider.add_url_rule("/token", "token", generate_csrf)
    minting = outsider.test_client()
    token = minting.get("/token").get_data(as_text=True)
    client.set_cookie("session", minting.get_cookie("session").value)

    assert post_form(client, form(csrf_token=token)).status_code == 400
    assert stored(session) == 0


def test_json_callers_get_the_error_shape(client, session):
    response = post_form(client, form(), headers={"Accept": "application/json"})

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "csrf_failed" and "form" in error["message"] and error["fields"] == {}
    assert stored(session) == 0


def test_the_json_api_needs_no_csrf_token(client, session, pdf, proof):
    response = client.post("/api/v1/applications", data=multipart(cv=pdf, academic_proof=proof),
                           content_type="multipart/form-data")

    assert response.status_code == 201
    token = response.get_json()["token"]
    reference = response.get_json()["reference"]
    withdrawn = client.post(f"/api/v1/applications/{reference}/withdraw", headers={"Authorization": f"Bearer {token}"})
    assert withdrawn.status_code == 200


def test_session_cookie_is_http_only_and_same_site(client):
    client.get("/apply")
    cookie = client.get_cookie("session")

    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
