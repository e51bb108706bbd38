"""The status page says what is wrong in the applicant's language, with the call's figures and documents."""
import html

from flask_babel import refresh

from services.intake.applications.words import problem_sentence as problem_text
from services.intake.applications.tasks import check_application
from shared.documents import DocumentStore
from tests.factories import application_payload, make_pdf, multipart, open_portal


def submit(client, proof: bytes, **overrides) -> dict:
    data = multipart(application_payload(**overrides), cv=make_pdf("CV"), academic_proof=proof)
    return client.post("/api/v1/applications", data=data, content_type="multipart/form-data").get_json()


def problems_on_status_page(client, body: dict, lang: str) -> list[str]:
    """The problems listed on the application's page, opened as its emailed link in `lang` opens it."""
    response = open_portal(client, body["reference"], language=lang)
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    return page.split('<ul class="problems">')[1].split("</ul>")[0].split("<li>")[1:]


def test_ineligibility_names_the_age_years_and_level_in_both_languages(client):
    body = submit(client, make_pdf("Proof"), date_of_birth="2010-01-01", languages={"en": "B1"},
                  # in the second year of a bachelor's: one year completed (a master's student has three more)
                  education={**application_payload()["education"], "degree_level": "bachelor", "year_of_study": 2})
    assert check_application.run(body["reference"]) == "ineligible"
    english = " ".join(problems_on_status_page(client, body, "en"))
    french = " ".join(problems_on_status_page(client, body, "fr"))
    assert "Applicants must be at least 21 years old on January 31, 2027." in english
    assert "Students must have completed at least 2 years of study by January 31, 2027." in english
    assert "English or French at level B2 or higher is needed." in english
    assert "Les candidats doivent avoir au moins 21 ans le 31 janvier 2027." in french
    assert "Les étudiants doivent avoir accompli au moins 2 années d’études au 31 janvier 2027." in french
    assert "Un niveau B2 ou supérieur en anglais ou en français est exigé." in french


def test_a_lost_document_is_named_in_both_languages(client, settings):
    proof = make_pdf("Lost proof")
    body = submit(client, proof)
    store = DocumentStore(settings.documents_dir)
    for key in store.keys():
        if store.read(key) == proof:
            (settings.documents_dir / key).unlink()
    assert check_application.run(body["reference"]) == "incomplete"
    assert problems_on_status_page(client, body, "en")[0].startswith(
        "Proof of studies or degree could not be found; upload it again.")
    assert problems_on_status_page(client, body, "fr")[0].startswith(
        "Attestation d’études ou diplôme : document introuvable ; envoyez-le à nouveau.")


def test_a_missing_document_and_an_old_degree_are_told_with_their_specifics(app, call):
    missing = {"code": "missing_document", "message": "Proof of studies or degree is missing."}
    too_old = {"code": "degree_too_old", "message": "The degree must have been obtained less than 12 months ..."}
    with app.test_request_context("/status/NIP27-AAAA-BBBB?lang=fr"):
        assert problem_text(missing, call) == "Document manquant : Attestation d’études ou diplôme."
        assert problem_text(too_old, call) == "Le diplôme doit avoir été obtenu moins de 12 mois avant le " \
                                              "31 janvier 2027."
        # a document the call does not name keeps the general sentence
        assert problem_text({"code": "missing_document", "message": "Portfolio is missing."}, call) == \
            "Un document obligatoire manque."
    with app.test_request_context("/status/NIP27-AAAA-BBBB?lang=en"):
        refresh()  # the language was kept on `g`, which both contexts share
        assert problem_text(missing, call) == "Proof of studies or degree is missing."
        assert problem_text({"code": "degree_not_obtained", "message": "..."}, call) == \
            "The degree must be obtained by January 31, 2027."
