"""Whatever an applicant sends, intake answers with a 2xx or a 4xx JSON error, never a 5xx."""
import json
import re
from urllib.parse import quote
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.factories import application_payload, multipart

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
FIELDS = list(application_payload())


@st.composite
def mangled_payloads(draw):
    payload = application_payload(email=f"{draw(st.uuids())}@example.org")
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        if draw(st.booleans()):
            payload[field] = draw(json_values)
        else:
            payload.pop(field)
    return payload


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=mangled_payloads())
def test_mangled_application_never_causes_a_server_error(client, pdf, proof, payload):
    response = client.post("/api/v1/applications", data=multipart(payload, cv=pdf, academic_proof=proof),
                           content_type="multipart/form-data")
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert set(response.get_json()["error"]) == {"code", "message", "fields"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.text(max_size=200) | json_values.map(json.dumps), cv=st.binary(max_size=2048))
def test_garbage_parts_never_cause_a_server_error(client, proof, raw, cv):
    data = multipart(cv=cv, academic_proof=proof)
    data["application"] = raw
    response = client.post("/api/v1/applications", data=data, content_type="multipart/form-data")
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)


# What arrives in URLs and headers: any text (control characters, non-ASCII, huge numbers). URLs carry UTF-8;
# HTTP servers hand header bytes over as latin-1, so headers stay in that range, minus line breaks.
url_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60)
header_text = st.text(alphabet=st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=60)
huge_numbers = st.integers(min_value=-10**40, max_value=10**40).map(str) | st.just("9" * 5000) | st.just("1e999")
# cases that once gave a 500, drawn often so that a regression shows in every run
KNOWN_NASTY = st.sampled_from(["é", "\x00", "a\x00b", "ÿ" * 300, "\u2603", "x" * 5000, "0", "-1", " "])
query_values = KNOWN_NASTY | url_text | huge_numbers
header_values = KNOWN_NASTY.filter(lambda v: max(map(ord, v)) < 256) | header_text | huge_numbers


def assert_client_error_or_success(response):
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400 and response.is_json:
        assert {"code", "message", "fields"} <= set(response.get_json()["error"])


@pytest.fixture
def real_application(client, pdf, proof):
    body = client.post("/api/v1/applications", data=multipart(cv=pdf, academic_proof=proof),
                       content_type="multipart/form-data").get_json()
    return body["reference"], body["token"]


@st.composite
def queries(draw, names):
    """A query string over `names` and a few unknown ones, each value anything."""
    chosen = draw(st.lists(st.sampled_from(names + ["page", "per_page", "x"]), max_size=4))
    return {name: draw(query_values) for name in chosen}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reference=url_text.filter(bool), authorization=header_values,
       prefix=st.sampled_from(["Bearer ", "", "bearer  "]), path=st.sampled_from(["", "/withdraw", "/documents"]),
       accept_language=header_values)
def test_applicant_endpoints_never_fail_on_odd_references_or_tokens(client, reference, authorization, prefix, path,
                                                                    accept_language):
    url = f"/api/v1/applications/{quote(reference, safe='')}{path}"
    headers = {"Authorization": prefix + authorization, "Accept-Language": accept_language}
    response = client.post(url, headers=headers, data={}, content_type="multipart/form-data") if path \
        else client.get(url, headers=headers)
    assert_client_error_or_success(response)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=queries(["token", "lang", "new"]), reference=url_text.filter(bool), accept=header_values)
def test_status_page_never_fails_on_odd_queries(client, pdf, proof, query, reference, accept):
    response = client.get(f"/status/{quote(reference, safe='')}", query_string=query,
                          headers={"Accept-Language": accept, "Accept": accept})
    assert_client_error_or_success(response)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=queries(["token", "lang", "new"]))
def test_status_page_of_a_real_application_never_fails_on_odd_queries(client, real_application, query):
    reference, token = real_application
    response = client.get(f"/status/{reference}", query_string={"token": token, **query})
    assert_client_error_or_success(response)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=queries(["lang"]), path=st.sampled_from(["/apply", "/", "/api/v1/programme", "/openapi.json",
                                                       "/healthz", "/readyz"]),
       accept_language=header_values)
def test_public_pages_never_fail_on_odd_queries(client, query, path, accept_language):
    response = client.get(path, query_string=query, headers={"Accept-Language": accept_language})
    assert_client_error_or_success(response)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=header_values, accept_language=header_values)
def test_submission_never_fails_on_odd_headers(client, pdf, proof, key, accept_language):
    response = client.post("/api/v1/applications", data=multipart(application_payload(email=f"{uuid4()}@example.org"),
                                                                   cv=pdf, academic_proof=proof),
                           content_type="multipart/form-data",
                           headers={"Idempotency-Key": key, "Accept-Language": accept_language})
    assert_client_error_or_success(response)


FORM_FIELDS = ["given_name", "family_name", "email", "date_of_birth", "nationality", "languages.en", "languages.fr",
               "education.institution", "education.degree_level", "education.field_of_study", "education.status",
               "education.year_of_study", "education.graduation_date", "department1", "department2", "session",
               "correspondence_language", "consent", "motivation", "lang"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.dictionaries(st.sampled_from(FORM_FIELDS), query_values, max_size=8), lang=query_values)
def test_application_form_never_fails_on_odd_fields(client, values, lang):
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/apply").get_data(as_text=True)).group(1)
    response = client.post("/apply", query_string={"lang": lang}, data={**values, "csrf_token": token},
                           content_type="multipart/form-data")
    assert response.status_code in (200, 302, 400, 413, 415, 422), response.get_data(as_text=True)
