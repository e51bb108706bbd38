import io
import re

from tests.factories import application_payload, make_pdf, multipart


def submit(client, **overrides):
    data = multipart(application_payload(**overrides), cv=make_pdf("CV"), academic_proof=make_pdf("Proof"))
    return client.post("/api/v1/applications", data=data, content_type="multipart/form-data").get_json()


def csrf_token(client, lang: str = "en") -> str:
    """The CSRF token the form carries, as a browser would send it back."""
    page = client.get(f"/apply?lang={lang}").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_apply_form_in_both_languages(client):
    english = client.get("/apply?lang=en").get_data(as_text=True)
    french = client.get("/apply?lang=fr").get_data(as_text=True)
    assert "Given name" in english and "Brussels time" in english
    assert "Prénom" in french and "Envoyer ma candidature" in french


def test_form_submission_redirects_to_the_status_page(client):
    form = {"given_name": "Lena", "family_name": "Berg", "email": "lena@example.org", "date_of_birth": "2001-03-02",
            "nationality": "no", "languages.en": "C1", "education.institution": "UiO",
            "education.degree_level": "master", "education.field_of_study": "Economics",
            "education.status": "enrolled", "education.year_of_study": "4", "department1": "finance",
            "session": "march", "correspondence_language": "en", "consent": "yes",
            "motivation": application_payload()["motivation"], "lang": "en", "csrf_token": csrf_token(client)}
    form["cv"] = (io.BytesIO(make_pdf("CV")), "cv.pdf")
    form["academic_proof"] = (io.BytesIO(make_pdf("Proof")), "proof.pdf")
    form["language_certificate"] = (io.BytesIO(b""), "")  # the optional input, left empty, as browsers send it
    response = client.post("/apply", data=form, content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r"NIP27-\w{4}-\w{4}", page) and "received" in page


def test_form_errors_are_shown_and_nothing_is_stored(client, session):
    response = client.post("/apply", data={"given_name": "", "lang": "fr", "csrf_token": csrf_token(client, "fr")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Veuillez corriger" in response.get_data(as_text=True)


def test_status_page_in_french_keeps_the_key_when_switching_language(client):
    body = submit(client)
    page = client.get(f"/status/{body['reference']}?token={body['token']}&lang=fr").get_data(as_text=True)
    assert "reçue" in page and f"token={body['token']}" in page


def test_status_page_without_key_asks_for_it(client):
    body = submit(client)
    page = client.get(f"/status/{body['reference']}").get_data(as_text=True)
    assert 'name="token"' in page and 'class="status"' not in page
    assert client.get(f"/status/{body['reference']}?token=wrong").status_code == 404
