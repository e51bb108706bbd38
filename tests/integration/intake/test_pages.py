"""The applicants' form and status page: human labels, country names, hints, errors beside their fields."""
import html
import io
import re

import pytest
from sqlalchemy import select

from services.intake.applications.models import Application
from tests.factories import MOTIVATION, application_payload, make_docx, make_pdf, multipart, open_portal


def submit(client, **overrides):
    data = multipart(application_payload(**overrides), cv=make_pdf("CV"), academic_proof=make_pdf("Proof"))
    return client.post("/api/v1/applications", data=data, content_type="multipart/form-data").get_json()


def csrf_token(client, lang: str = "en") -> str:
    """The CSRF token the form carries, as a browser would send it back."""
    page = client.get(f"/apply?lang={lang}").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def filled_form(client, lang="en", **extra) -> dict:
    form = {"given_name": "Lena", "family_name": "Berg", "email": "lena@example.org",
            "date_of_birth": "2001-03-02", "nationality": "Norway", "languages.en": "C1",
            "education.institution": "UiO", "education.degree_level": "master",
            "education.field_of_study": "Economics", "education.status": "enrolled",
            "education.year_of_study": "4", "department1": "finance", "session": "march",
            "correspondence_language": lang, "consent": "yes", "motivation": MOTIVATION, "lang": lang,
            "csrf_token": csrf_token(client, lang), **extra}
    form["cv"] = (io.BytesIO(make_pdf("CV")), "cv.pdf")
    form["academic_proof"] = (io.BytesIO(make_pdf("Proof")), "proof.pdf")
    form["language_certificate"] = (io.BytesIO(b""), "")  # the optional input, left empty, as browsers send it
    return form


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def error_beside(page: str, field: str) -> str:
    """The error shown next to a field, tied to it by aria-describedby."""
    match = re.search(rf'<span class="error" id="{re.escape(field)}-error">([^<]+)</span>', page)
    assert match, f"no error beside {field}"
    assert re.search(rf'id="{re.escape(field)}"[^>]*aria-describedby="[^"]*{re.escape(field)}-error', page)
    return match.group(1)


@pytest.fixture
def apply_pages(client) -> tuple[str, str]:
    """The application form as drawn in English and in French."""
    return text(client.get("/apply?lang=en")), text(client.get("/apply?lang=fr"))


def test_apply_form_in_both_languages(apply_pages):
    english, french = apply_pages
    assert "Given name" in english and "Brussels time" in english and "January 31, 2027" in english
    assert "Prénom" in french and "Envoyer ma candidature" in french and "31 janvier 2027" in french


def test_choices_have_human_labels_in_the_pages_language(apply_pages):
    english, french = apply_pages
    assert '<option value="master">Master\'s degree</option>' in english
    assert '<option value="enrolled">Je suis encore aux études</option>' in french
    assert '<option value="march">Session de mars</option>' in french
    assert '<option value="B2">B2 – upper intermediate</option>' in english
    assert '<option value="it">Technologies de l\'information et cybersécurité</option>' in french
    assert ">bachelor<" not in english and ">march<" not in english


def test_nationality_is_chosen_from_country_names_in_the_pages_language(apply_pages):
    english, french = apply_pages
    assert 'list="countries"' in english
    assert '<option value="Belgium">' in english and '<option value="Germany">' in english
    assert '<option value="Belgique">' in french and '<option value="Allemagne">' in french
    # sorted as a French reader expects: accents do not send "Émirats" after "Zimbabwe"
    names = re.findall(r'<option value="([^"]+)"></option>', french)
    assert names.index("Émirats arabes unis") < names.index("Zimbabwe")


def test_french_country_name_is_stored_as_its_code(client, session):
    response = client.post("/apply", data=filled_form(client, "fr", nationality="Norvège"),
                           content_type="multipart/form-data")
    assert response.status_code == 302
    assert session.scalar(select(Application.nationality).where(Application.email == "lena@example.org")) == "NO"


def test_uploads_show_their_size_and_type_limits_from_the_call(apply_pages):
    english, french = apply_pages
    assert "PDF or DOCX, up to 5 MB and 10 pages" in english
    assert "PDF, up to 10 MB and 20 pages" in english
    assert "PDF ou DOCX, jusqu’à 5 Mo et 10 pages" in french
    assert 'accept=".pdf,.docx"' in english


def test_consent_box_links_to_the_privacy_notice(client):
    french = text(client.get("/apply?lang=fr"))
    assert re.search(r'<a href="/privacy\?lang=fr">Comment nous utilisons vos données', french)


def test_form_submission_redirects_to_the_status_page(client):
    response = client.post("/apply", data=filled_form(client), content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r"NIP27-\w{4}-\w{4}", page) and "received" in page


def test_a_docx_cv_is_accepted_from_the_form(client):
    form = filled_form(client)
    form["cv"] = (io.BytesIO(make_docx("Curriculum vitae")), "cv.docx")
    assert client.post("/apply", data=form, content_type="multipart/form-data").status_code == 302


def test_errors_are_shown_beside_their_fields_in_french_with_values_kept(client, session):
    form = filled_form(client, "fr", email="pas-une-adresse", nationality="Atlantide",
                       given_name="Léna", **{"education.year_of_study": ""})
    response = client.post("/apply", data=form, content_type="multipart/form-data")
    assert response.status_code == 422
    page = text(response)
    assert "Veuillez corriger les champs signalés." in page
    assert error_beside(page, "email") == "Saisissez une adresse électronique, par exemple nom@example.org."
    assert error_beside(page, "nationality") == "Choisissez votre nationalité dans la liste des pays."
    assert error_beside(page, "education.year_of_study").startswith("Si vous êtes encore aux études")
    assert 'value="Léna"' in page and 'value="pas-une-adresse"' in page and 'value="Atlantide"' in page
    assert '<option value="master" selected>Master</option>' in page
    assert session.scalar(select(Application.id).where(Application.email == "pas-une-adresse")) is None


def test_missing_consent_and_document_are_explained(client):
    form = filled_form(client, "en", consent="")
    del form["academic_proof"]
    page = text(client.post("/apply", data=form, content_type="multipart/form-data"))
    assert error_beside(page, "consent") == "Tick the box to agree, or we cannot consider your application."
    assert error_beside(page, "academic_proof") == "Attach your proof of studies or degree."


def test_a_refused_document_is_explained_in_french(client):
    form = filled_form(client, "fr")
    form["academic_proof"] = (io.BytesIO(b"not a pdf at all"), "proof.pdf")
    page = text(client.post("/apply", data=form, content_type="multipart/form-data"))
    assert error_beside(page, "academic_proof") == "Attestation d’études ou diplôme : ce type de fichier n’est pas accepté ici."
    assert 'value="Lena"' in page


def test_status_page_in_french_keeps_the_session_when_switching_language(client):
    body = submit(client)
    page = text(open_portal(client, body["reference"], language="fr"))
    assert '<dd class="status">reçue</dd>' in page and "heure de Bruxelles" in page
    # the switch to English is the same page, with no key in its address: the session opens it
    switch = re.search(r'<a class="lang" href="([^"]+)"', page).group(1)
    assert switch == f"/status/{body['reference']}?lang=en"
    english = text(client.get(switch))
    assert '<dd class="status">received</dd>' in english and "Brussels time" in english


def test_status_page_without_a_session_asks_for_the_emailed_link(client):
    body = submit(client)
    for query in ("", "?token=wrong", f"?token={body['token']}"):  # a key in the address opens nothing
        response = client.get(f"/status/{body['reference']}{query}")
        page = text(response)
        assert response.status_code == 401 and 'class="status"' not in page and "Ana" not in page
        assert "follow the link in the latest email" in page and "/find" in page


def test_error_summary_links_to_each_field_in_error(client):
    form = filled_form(client, "en", email="nope", department1="", **{"languages.en": ""})
    page = text(client.post("/apply", data=form, content_type="multipart/form-data"))
    summary = page.split('class="error-summary"')[1].split("</div>")[0]
    targets = re.findall(r'<a href="#([^"]+)">', summary)
    assert sorted(targets) == ["department1", "email", "languages.en"]
    assert all(f'id="{target}"' in page for target in targets)


def test_a_motivation_of_the_wrong_length_is_explained_beside_it_in_both_languages(client, session):
    english = client.post("/apply", data=filled_form(client, "en", motivation="Too short."),
                          content_type="multipart/form-data")
    assert english.status_code == 422
    page = text(english)
    assert error_beside(page, "motivation") == "Write between 50 and 700 words; yours has 2 words."
    assert "could not be sent" not in page and ">Too short.</textarea>" in page
    french = text(client.post("/apply", data=filled_form(client, "fr", motivation=" ".join(["mot"] * 701)),
                              content_type="multipart/form-data"))
    assert error_beside(french, "motivation") == "Écrivez entre 50 et 700 mots ; votre texte en compte 701."
    assert session.scalar(select(Application.id).where(Application.email == "lena@example.org")) is None


def test_a_short_motivation_is_told_in_the_same_round_as_other_mistakes(client):
    page = text(client.post("/apply", data=filled_form(client, "en", motivation="One word", email="nope"),
                            content_type="multipart/form-data"))
    assert error_beside(page, "email") == "Enter an email address, like name@example.org."
    assert error_beside(page, "motivation") == "Write between 50 and 700 words; yours has 2 words."


def test_the_forms_heading_and_the_calls_name_are_in_the_pages_language(client):
    assert "<h1>Application — NATO Internship Programme 2027</h1>" in text(client.get("/apply?lang=en"))
    assert "<h1>Candidature — Programme de stages de l'OTAN 2027</h1>" in text(client.get("/apply?lang=fr"))
