"""The applicant's language: from the URL, then the one kept from an earlier page, then the browser's."""
import html
import io

import pytest

from services.intake.applications.words import problem_sentence as problem_text
from tests.factories import application_payload, make_pdf, multipart, open_portal


def title(client, path: str, **kwargs) -> str:
    page = html.unescape(client.get(path, **kwargs).get_data(as_text=True))
    return page.split("<title>")[1].split("</title>")[0]


def test_browser_language_is_used_when_the_url_names_none(client):
    assert title(client, "/apply", headers={"Accept-Language": "fr-BE,fr;q=0.9,en;q=0.5"}).startswith("Postuler")
    assert title(client, "/apply", headers={"Accept-Language": "de-DE,en;q=0.5"}).startswith("Apply")
    assert title(client, "/apply", headers={"Accept-Language": "de-DE"}).startswith("Apply")


def test_url_language_wins_over_the_browser_and_is_kept_for_the_next_pages(client):
    assert title(client, "/apply?lang=fr", headers={"Accept-Language": "en"}).startswith("Postuler")
    # the next page's link carries no language: the choice is remembered
    assert title(client, "/apply", headers={"Accept-Language": "en"}).startswith("Postuler")
    assert title(client, "/apply?lang=en").startswith("Apply")
    assert title(client, "/apply", headers={"Accept-Language": "fr"}).startswith("Apply")


@pytest.mark.parametrize("lang", ["de", "xx", "fr-FR", ""])
def test_unknown_language_in_the_url_falls_back_to_the_browsers(client, lang):
    assert title(client, f"/apply?lang={lang}", headers={"Accept-Language": "fr"}).startswith("Postuler")


def test_language_switch_links_to_the_same_page_in_the_other_language(client):
    page = client.get("/apply?lang=fr").get_data(as_text=True)
    assert '<a class="lang" href="/apply?lang=en" hreflang="en" lang="en">English</a>' in page
    page = client.get("/apply?lang=en").get_data(as_text=True)
    assert 'hreflang="fr" lang="fr">Français</a>' in page


def test_status_names_and_dates_on_the_status_page_follow_the_language(client):
    data = multipart(application_payload(), cv=make_pdf("CV"), academic_proof=make_pdf("Proof"))
    body = client.post("/api/v1/applications", data=data, content_type="multipart/form-data").get_json()
    open_portal(client, body["reference"])
    url = f"/status/{body['reference']}"
    french = html.unescape(client.get(url + "?lang=fr").get_data(as_text=True))
    english = html.unescape(client.get(url + "?lang=en").get_data(as_text=True))
    assert "<h1>Votre candidature</h1>" in french and '<dd class="status">reçue</dd>' in french
    assert "<h1>Your application</h1>" in english and '<dd class="status">received</dd>' in english
    assert "(heure de Bruxelles)" in french and "(Brussels time)" in english


def test_error_pages_speak_the_visitors_language(client):
    response = client.get("/no-such-page?lang=fr", headers={"Accept": "text/html"})
    assert response.status_code == 404
    page = html.unescape(response.get_data(as_text=True))
    assert "Cette page n’existe pas" in page and '<html lang="fr">' in page


def test_api_answers_stay_in_english_whatever_the_language(client):
    response = client.get("/api/v1/applications/NIP27-AAAA-BBBB?lang=fr", headers={"Authorization": "Bearer x"})
    assert response.status_code == 404
    assert response.get_json()["error"]["message"] == "No application with this reference and token."


def test_a_form_too_large_gets_its_error_page_in_the_browsers_language(client):
    too_large = io.BytesIO(b"x" * (26 * 1024 * 1024))
    response = client.post("/apply", data={"lang": "en", "cv": (too_large, "cv.pdf")},
                           content_type="multipart/form-data", headers={"Accept": "text/html", "Accept-Language": "fr"})
    assert response.status_code == 413
    assert "Votre envoi est trop volumineux." in html.unescape(response.get_data(as_text=True))


def test_status_page_problems_are_told_in_the_language_of_the_page(app):
    with app.test_request_context("/status/NIP27-AAAA-BBBB?lang=fr"):
        assert problem_text({"code": "missing_document", "message": "CV is missing."}) == \
            "Un document obligatoire manque."
        assert problem_text({"code": "too_young", "message": "..."}).startswith("Les candidats doivent avoir atteint")
        # a code with no words yet keeps the checks' own sentence rather than showing nothing
        assert problem_text({"code": "brand_new_rule", "message": "A new rule."}) == "A new rule."
