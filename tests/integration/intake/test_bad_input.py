import io
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from services.intake.applications.models import Application
from services.intake.db import OUTBOX
from tests.factories import application_payload, multipart


def submit(client, data):
    return client.post("/api/v1/applications", data=data, content_type="multipart/form-data")


def assert_nothing_stored(session, settings):
    assert session.scalar(select(func.count()).select_from(Application)) == 0
    assert session.scalar(select(func.count()).select_from(OUTBOX)) == 0
    assert not (settings.documents_dir / "uploads").exists()


def assert_error(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def test_missing_application_part(client, session, settings, pdf, proof):
    data = multipart(cv=pdf, academic_proof=proof)
    del data["application"]
    error = assert_error(submit(client, data), 422, "invalid_fields")
    assert "application" in error["fields"]
    assert_nothing_stored(session, settings)


def test_malformed_json(client, session, settings, pdf, proof):
    data = multipart(cv=pdf, academic_proof=proof)
    data["application"] = "{not json"
    assert_error(submit(client, data), 400, "malformed_json")
    assert_nothing_stored(session, settings)


def test_invalid_fields_are_named_precisely(client, session, settings, pdf, proof):
    payload = application_payload(email="nope", nationality="XX", departments=[], session="may", consent=False)
    error = assert_error(submit(client, multipart(payload, cv=pdf, academic_proof=proof)), 422, "invalid_fields")
    assert set(error["fields"]) == {"email", "nationality", "departments", "session", "consent"}
    assert_nothing_stored(session, settings)


def test_missing_file(client, session, settings, pdf):
    error = assert_error(submit(client, multipart(cv=pdf)), 422, "invalid_documents")
    assert "academic_proof" in error["fields"]
    assert_nothing_stored(session, settings)


@pytest.mark.parametrize("content", [b"GIF89a fake image", b"MZ\x90\x00 windows program", b"plain text"])
def test_file_that_is_not_a_pdf(client, session, settings, pdf, content):
    assert_error(submit(client, multipart(cv=pdf, academic_proof=content)), 415, "unsupported_media_type")
    assert_nothing_stored(session, settings)


def test_broken_pdf(client, session, settings, pdf):
    assert_error(submit(client, multipart(cv=pdf, academic_proof=b"%PDF-1.7\n garbage")), 422, "invalid_documents")
    assert_nothing_stored(session, settings)


def test_motivation_outside_word_range(client, session, settings, pdf, proof):
    error = assert_error(submit(client, multipart(application_payload(motivation="Too short."), cv=pdf,
                                                  academic_proof=proof)), 422, "invalid_fields")
    assert "motivation" in error["fields"]
    assert_nothing_stored(session, settings)


def test_not_multipart(client, session, settings):
    response = client.post("/api/v1/applications", json=application_payload())
    assert_error(response, 415, "multipart_required")


def test_wrong_token_and_unknown_reference_look_the_same(client, pdf, proof):
    body = submit(client, multipart(cv=pdf, academic_proof=proof)).get_json()
    wrong = client.get(f"/api/v1/applications/{body['reference']}", headers={"Authorization": "Bearer x" * 1})
    unknown = client.get("/api/v1/applications/NIP27-AAAA-AAAA", headers={"Authorization": f"Bearer {body['token']}"})
    assert_error(wrong, 404, "not_found")
    assert_error(unknown, 404, "not_found")
    assert_error(client.get(f"/api/v1/applications/{body['reference']}"), 401, "unauthorized")


def test_unknown_file_part(client, session, settings, pdf, proof):
    data = multipart(cv=pdf, academic_proof=proof)
    data["virus"] = (io.BytesIO(pdf), "x.pdf")
    assert_error(submit(client, data), 422, "invalid_documents")
    assert_nothing_stored(session, settings)


def test_request_over_the_size_limit(client, session, settings, pdf):
    huge = b"%PDF-1.7\n" + b"0" * (26 * 1024 * 1024)
    assert_error(submit(client, multipart(cv=pdf, academic_proof=huge)), 413, "request_entity_too_large")
    assert_nothing_stored(session, settings)


def test_document_over_its_own_limit(client, session, settings, pdf):
    big = b"%PDF-1.7\n" + b"0" * (11 * 1024 * 1024)
    assert_error(submit(client, multipart(cv=pdf, academic_proof=big)), 413, "document_too_large")
    assert_nothing_stored(session, settings)


@pytest.mark.parametrize("token", ["é", "jeton-été", "\u2603" * 43, "a\x07b", "x" * 129])
def test_token_that_cannot_be_one_is_a_wrong_token_not_a_server_error(client, pdf, proof, token):
    reference = submit(client, multipart(cv=pdf, academic_proof=proof)).get_json()["reference"]
    header_token = token.encode("utf-8").decode("latin-1")  # what a server hands over for UTF-8 header bytes

    assert_error(client.get(f"/api/v1/applications/{reference}", headers={"Authorization": f"Bearer {header_token}"}),
                 404, "not_found")
    assert_error(client.post(f"/api/v1/applications/{reference}/withdraw",
                             headers={"Authorization": f"Bearer {header_token}"}), 404, "not_found")
    # on the pages, a key in the address opens nothing (the sign-in page), and a link that cannot be one of ours
    # is "not valid": never a server error
    signed_out = client.get(f"/status/{reference}", query_string={"token": token})
    assert signed_out.status_code == 401 and "follow the link in the latest email" in signed_out.get_data(as_text=True)
    not_a_link = client.get(f"/access/{quote(token, safe='')}", query_string={"lang": "en"})
    assert not_a_link.status_code == 404 and "not valid" in not_a_link.get_data(as_text=True)


@pytest.mark.parametrize("key", ["a\x00b", "\x07bell", "clé-é", "k" * 201])
def test_idempotency_key_must_be_printable_ascii(client, session, settings, pdf, proof, key):
    response = client.post("/api/v1/applications", data=multipart(cv=pdf, academic_proof=proof),
                           content_type="multipart/form-data",
                           headers={"Idempotency-Key": key.encode("utf-8").decode("latin-1")})

    error = assert_error(response, 422, "invalid_idempotency_key")
    assert "Idempotency-Key" in error["fields"]
    assert_nothing_stored(session, settings)


@pytest.mark.parametrize("url", ["/api/v1/applications/NIP27-%00", "/api/v1/programme?x=%00"])
def test_nul_characters_in_urls_are_refused_with_the_error_shape(client, url):
    error = assert_error(client.get(url, headers={"Authorization": "Bearer x"}), 400, "invalid_characters")
    assert error["fields"]


@pytest.mark.parametrize("url", ["/status/NIP27-%00", "/status/NIP27-AAAA-BBBB?lang=a%00b", "/access/ab%00c?lang=en",
                                 "/privacy/export/NIP27-%00", "/apply?lang=%00"])
def test_nul_characters_in_page_urls_are_refused_with_the_error_shape_or_a_page(client, url):
    # a client that asks for JSON gets the API's error shape
    error = assert_error(client.get(url, headers={"Accept": "application/json"}), 400, "invalid_characters")
    assert error["fields"]
    # a browser gets an error page in words, never JSON
    page = client.get(url, headers={"Accept": "text/html"})
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert "could not read" in page.get_data(as_text=True)


@pytest.mark.parametrize("fields", [{"given_name": "A\x00na"}, {"family_name": "Po\x1bpescu"},
                                    {"motivation": application_payload()["motivation"] + "\x00"},
                                    {"education": {**application_payload()["education"], "institution": "U\x00B"}}])
def test_control_characters_in_text_fields_are_invalid_fields_not_a_server_error(client, session, settings, pdf,
                                                                                 proof, fields):
    # PostgreSQL refuses a NUL in a string: found by tests/contract (a 500 before)
    response = submit(client, multipart(application_payload(**fields), cv=pdf, academic_proof=proof))

    error = assert_error(response, 422, "invalid_fields")
    assert error["fields"]
    assert_nothing_stored(session, settings)


def test_a_reference_that_cannot_be_one_is_a_wrong_token(client, pdf, proof):
    token = submit(client, multipart(cv=pdf, academic_proof=proof)).get_json()["token"]
    for reference in ("NIP27-AAAA", "nip27-aaaa-bbbb", "NIP27-AAAA-BBBB-CCCC", "x" * 300):
        assert_error(client.get(f"/api/v1/applications/{reference}", headers={"Authorization": f"Bearer {token}"}),
                     404, "not_found")
